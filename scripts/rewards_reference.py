#!/usr/bin/env python3
"""Writes the reference vectors that the rewards plugin's BLEU and clustering must reproduce.

Uses Debian's python3-nltk and python3-sklearn (apt-get install python3-nltk python3-sklearn):
    python3 scripts/rewards_reference.py            # writes test/fixtures/rewards/*.json

bleu.json        sentence_bleu([ref.split()], hyp.split(), smoothing_function=method1)
clustering.json  AgglomerativeClustering(metric="precomputed", linkage="average",
                 distance_threshold=t, n_clusters=None).fit_predict(D)
repetition.json  Agent0's cluster_share_per_problem: the 1 - BLEU matrix (hypothesis i against
                 reference j for i < j, mirrored), clustered at 0.5, |cluster| / batch size
"""
import json
import os
import random
import sys
from collections import Counter

import nltk
import numpy as np
import scipy
import sklearn
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from sklearn.cluster import AgglomerativeClustering

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'rewards')
SMOOTH = SmoothingFunction().method1

VOCAB = ['what', 'is', 'the', 'sum', 'of', '3', '5', 'and', 'x', 'if', '2x', '+', '=', '7', 'find',
         'value', 'product', 'a', 'number', 'twice', 'its', 'square', 'root', '12', 'how', 'many']

HAND_SENTENCES = [
    ('', ''),
    ('', 'what is 3'),
    ('what is 3', ''),
    ('x', 'x'),
    ('x', 'y'),
    ('a b', 'a b'),
    ('a b c', 'a b c'),
    ('a b c d', 'a b c d'),
    ('a b c d', 'a b c'),
    ('a b c', 'a b c d'),
    ('the the the the', 'the'),
    ('the', 'the the the the'),
    ('the cat sat on the mat', 'the cat the cat on the mat'),
    ('What is the sum of 3 and 5?', 'What is the sum of 3 and 5?'),
    ('What is the sum of 3 and 5?', 'What is the product of 3 and 5?'),
    ('Find x if 2x + 3 = 7.', 'Find x if 2x + 5 = 9.'),
    ('  leading   and\ttrailing \n spaces  ', 'leading and trailing spaces'),
    ('nbsp\u00a0split here', 'nbsp split here'),
    ('unit\x1fsep\x85nel', 'unit sep nel'),
    ('zero\u200bwidth is not space', 'zero width is not space'),
    ('bom\ufeffis not space', 'bom is not space'),
    ('ideographic\u3000space', 'ideographic space'),
    ('Ünïcödé ∑ x² ≤ π', 'Ünïcödé ∑ x² ≥ π'),
    ('one two three four five six seven eight nine ten', 'ten nine eight seven six five four three two one'),
    ('a a a a a a a a', 'a a a a a a a a a'),
]


def bleu(ref, hyp):
    return float(sentence_bleu([ref.split()], hyp.split(), smoothing_function=SMOOTH))


def random_sentence(rng, lo=0, hi=14):
    return ' '.join(rng.choice(VOCAB) for _ in range(rng.randint(lo, hi)))


def mutate(rng, s):
    toks = s.split()
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if op < 0.4 and toks:
            toks[rng.randrange(len(toks))] = rng.choice(VOCAB)
        elif op < 0.7:
            toks.insert(rng.randint(0, len(toks)), rng.choice(VOCAB))
        elif toks:
            toks.pop(rng.randrange(len(toks)))
    return ' '.join(toks)


def bleu_cases(rng):
    cases = [{'reference': r, 'hypothesis': h} for r, h in HAND_SENTENCES]
    for _ in range(150):
        base = random_sentence(rng, 0, 16)
        other = mutate(rng, base) if rng.random() < 0.7 else random_sentence(rng, 0, 16)
        cases.append({'reference': base, 'hypothesis': other})
    for c in cases:
        c['bleu'] = bleu(c['reference'], c['hypothesis'])
    return cases


def cluster(dist, threshold):
    n = len(dist)
    if n < 2:
        return [0] * n
    model = AgglomerativeClustering(metric='precomputed', linkage='average',
                                    distance_threshold=threshold, n_clusters=None)
    return [int(x) for x in model.fit_predict(np.asarray(dist, dtype=np.float64))]


def symmetric(rng, n, values):
    d = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            d[i][j] = d[j][i] = values(rng)
    return d


def clustering_cases(rng):
    cases = []
    hand = [
        ('two points below threshold', [[0, 0.3], [0.3, 0]], 0.5),
        ('two points at the threshold (not merged)', [[0, 0.5], [0.5, 0]], 0.5),
        ('chain tie: A-B = B-C, A-C far', [[0, 0.3, 0.9], [0.3, 0, 0.3], [0.9, 0.3, 0]], 0.5),
        ('all pairs tied', [[0, 0.4, 0.4, 0.4], [0.4, 0, 0.4, 0.4], [0.4, 0.4, 0, 0.4], [0.4, 0.4, 0.4, 0]], 0.5),
        ('all identical (distance 0)', [[0.0] * 5 for _ in range(5)], 0.5),
        ('all far (distance 1)', [[0.0 if i == j else 1.0 for j in range(5)] for i in range(5)], 0.5),
        ('average crosses the threshold', [[0, 0.2, 0.6, 0.7], [0.2, 0, 0.7, 0.6], [0.6, 0.7, 0, 0.2], [0.7, 0.6, 0.2, 0]], 0.65),
        ('average exactly at the threshold', [[0, 0.2, 0.6, 0.7], [0.2, 0, 0.7, 0.6], [0.6, 0.7, 0, 0.2], [0.7, 0.6, 0.2, 0]], 0.65 - 1e-12),
        ('single point', [[0.0]], 0.5),
    ]
    for name, d, t in hand:
        cases.append({'name': name, 'threshold': t, 'distances': [[float(x) for x in r] for r in d]})
    grids = [
        ('grid tenths', lambda r: r.randint(0, 10) / 10),
        ('grid quarters', lambda r: r.randint(0, 4) / 4),
        ('two values', lambda r: r.choice([0.25, 0.75])),
        ('three values', lambda r: r.choice([0.2, 0.5, 0.8])),
        ('continuous', lambda r: r.random()),
    ]
    for k in range(60):
        name, values = grids[k % len(grids)]
        n = rng.randint(2, 14)
        t = rng.choice([0.3, 0.5, 0.5, 0.5, 0.55, 0.7])
        cases.append({'name': f'{name} #{k}', 'threshold': t, 'distances': symmetric(rng, n, values)})
    for c in cases:
        c['labels'] = cluster(c['distances'], c['threshold'])
    return cases


def distance_matrix(sentences):
    # The released Agent0 code's matrix, verbatim in behaviour.
    n = len(sentences)
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            score = 1.0 if i == j else sentence_bleu([sentences[j].split()], sentences[i].split(), smoothing_function=SMOOTH)
            dist[i, j] = dist[j, i] = 1 - score
    return dist


def repetition_cases(rng):
    batches = [
        ['What is 3 + 5?'],
        ['What is the sum of 3 and 5?', 'What is the sum of 3 and 5?', 'Find x if 2x + 3 = 7.', ''],
        ['', '', '', 'a question here'],
        ['What is the sum of 3 and 5 ?', 'What is the sum of 3 and 7 ?', 'What is the sum of 4 and 7 ?', 'How many roots does x have ?'],
    ]
    for _ in range(25):
        seeds = [random_sentence(rng, 3, 14) for _ in range(rng.randint(1, 4))]
        batch = []
        for _ in range(rng.randint(2, 16)):
            r = rng.random()
            if r < 0.1:
                batch.append('')
            elif r < 0.6:
                batch.append(mutate(rng, rng.choice(seeds)))
            elif r < 0.75:
                batch.append(rng.choice(seeds))
            else:
                batch.append(random_sentence(rng, 1, 14))
        batches.append(batch)
    cases = []
    for batch in batches:
        d = distance_matrix(batch)
        labels = cluster(d.tolist(), 0.5) if len(batch) > 1 else [0]
        size = Counter(labels)
        cases.append({'sentences': batch, 'threshold': 0.5, 'distances': d.tolist(), 'labels': labels,
                      'shares': [size[l] / len(batch) for l in labels]})
    return cases


def main():
    rng = random.Random(20251116)
    os.makedirs(OUT, exist_ok=True)
    versions = {'python': sys.version.split()[0], 'nltk': nltk.__version__, 'sklearn': sklearn.__version__,
                'scipy': scipy.__version__, 'numpy': np.__version__}
    for name, cases in [('bleu', bleu_cases(rng)), ('clustering', clustering_cases(rng)), ('repetition', repetition_cases(rng))]:
        with open(os.path.join(OUT, f'{name}.json'), 'w', encoding='utf-8') as f:
            json.dump({'generator': 'scripts/rewards_reference.py', 'versions': versions, 'cases': cases}, f, ensure_ascii=False, indent=1)
            f.write('\n')
        print(f'{name}: {len(cases)} cases')


if __name__ == '__main__':
    main()
