"""How rows are cut across ranks and into micro-batches."""
import random
import unittest

from agent0_trainer.rows import micro_batches, rank_plans, split_even


class SplitEven(unittest.TestCase):
    def test_contiguous_and_within_one(self):
        self.assertEqual(split_even(5, 2), [(0, 3), (3, 5)])
        self.assertEqual(split_even(2, 3), [(0, 1), (1, 2), (2, 2)])
        self.assertEqual(split_even(0, 2), [(0, 0), (0, 0)])
        self.assertEqual(split_even(7, 1), [(0, 7)])


class MicroBatches(unittest.TestCase):
    def test_by_hand(self):
        lengths = [3, 9, 4, 9, 1]
        # longest first: 9, 9 (2·9 = 18 ≤ 20), then 4 would make 3·9 = 27; 4, 3, 1 → 3·4 = 12
        self.assertEqual(micro_batches(lengths, 20, 64), [[1, 3], [2, 0, 4]])
        self.assertEqual(micro_batches(lengths, 20, 2), [[1, 3], [2, 0], [4]])
        # a row over the budget still runs, alone
        self.assertEqual(micro_batches([30, 2], 20, 64), [[0], [1]])
        self.assertEqual(micro_batches([], 20, 64), [])

    def test_properties_on_random_cases(self):
        rng = random.Random(0)
        for _ in range(200):
            lengths = [rng.randint(1, 40) for _ in range(rng.randint(1, 30))]
            budget, max_rows = rng.randint(1, 200), rng.randint(1, 8)
            mbs = micro_batches(lengths, budget, max_rows)
            flat = [i for mb in mbs for i in mb]
            self.assertEqual(sorted(flat), list(range(len(lengths))))
            self.assertEqual([lengths[i] for i in flat], sorted(lengths, reverse=True))
            for mb in mbs:
                self.assertLessEqual(len(mb), max_rows)
                if len(mb) > 1:
                    self.assertLessEqual(len(mb) * max(lengths[i] for i in mb), budget)


class RankPlans(unittest.TestCase):
    def test_every_row_once_on_its_rank(self):
        lengths = [5, 12, 3, 8, 8, 1, 20]
        plans = rank_plans(lengths, 3, 16, 4)
        self.assertEqual([(a, b) for a, b, _ in plans], [(0, 3), (3, 5), (5, 7)])
        self.assertEqual(plans[0][2], [[1], [0, 2]])
        self.assertEqual(plans[1][2], [[3, 4]])
        self.assertEqual(plans[2][2], [[6], [5]])
        seen = [i for a, b, mbs in plans for mb in mbs for i in mb]
        self.assertEqual(sorted(seen), list(range(len(lengths))))
        for a, b, mbs in plans:
            self.assertTrue(all(a <= i < b for mb in mbs for i in mb))

    def test_more_ranks_than_rows(self):
        plans = rank_plans([4, 2], 4, 100, 8)
        self.assertEqual([mbs for _, _, mbs in plans], [[[0]], [[1]], [], []])


if __name__ == "__main__":
    unittest.main()
