"""How rows are cut: across ranks (contiguous, as even as possible) and into micro-batches (by a
padded-token budget, longest first, so padding stays small). Pure functions: every rank computes
every rank's plan itself, so all ranks agree on the number of collective forwards without talking."""


def split_even(n, parts):
    """[start, end) of each of `parts` contiguous runs over n items, sizes differing by at most one."""
    out, start = [], 0
    for p in range(parts):
        size = n // parts + (1 if p < n % parts else 0)
        out.append((start, start + size))
        start += size
    return out


def micro_batches(lengths, budget_tokens, max_rows):
    """Lists of row indices: rows sorted longest first, packed while rows × longest <= budget."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    out, cur = [], []
    for i in order:
        longest = lengths[cur[0]] if cur else lengths[i]
        if cur and ((len(cur) + 1) * longest > budget_tokens or len(cur) >= max_rows):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def rank_plans(lengths, world, budget_tokens, max_rows):
    """Per rank: (start, end, micro-batches of global row indices)."""
    plans = []
    for a, b in split_even(len(lengths), world):
        mbs = micro_batches(lengths[a:b], budget_tokens, max_rows)
        plans.append((a, b, [[a + i for i in mb] for mb in mbs]))
    return plans
