#!/usr/bin/python3
"""Independent reference for plugins/algorithms: writes test/fixtures/algorithms/*.json.

Written from the formulas in docs/algorithms.md (scalar loops in float64, no project code).
Gradients are central finite differences of the loss value, except for the straight-through
KL variants, whose gradient is by definition k2's: d(logp - ref).
Inputs are rounded to float32 first, so TypeScript (float32 tensors) sees the same numbers.

Run: /usr/bin/python3 scripts/algorithms_reference.py   (needs Debian's python3-numpy)
"""
import json
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'algorithms')
rng = np.random.default_rng(20251125)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def to_list(a):
    return np.asarray(a, dtype=np.float64).tolist()


# ---------------------------------------------------------------- advantages

def groups(gids):
    out = {}
    for i, g in enumerate(gids):
        out.setdefault(g, []).append(i)
    return out


def group_mean_std(r, gids):
    mean, std, size = [0.0] * len(r), [1.0] * len(r), [0] * len(r)
    for rows in groups(gids).values():
        n = len(rows)
        m, s = 0.0, 1.0
        if n > 1:
            m = sum(r[i] for i in rows) / n
            s = math.sqrt(sum((r[i] - m) ** 2 for i in rows) / (n - 1))
        for i in rows:
            mean[i], std[i], size[i] = m, s, n
    return mean, std, size


def broadcast(scores, mask):
    return [[scores[i] if mask[i][t] > 0 else 0.0 for t in range(len(mask[i]))] for i in range(len(mask))]


def grpo(r, gids, mask, norm=True, eps=1e-6):
    mean, std, _ = group_mean_std(r, gids)
    return broadcast([(r[i] - mean[i]) / (std[i] + eps) if norm else r[i] - mean[i] for i in range(len(r))], mask)


def rloo(r, gids, mask):
    sc = []
    for i in range(len(r)):
        others = [r[j] for j in range(len(r)) if gids[j] == gids[i] and j != i]
        sc.append(r[i] - sum(others) / len(others) if others else r[i])
    return broadcast(sc, mask)


def whiten(x, mask, eps):
    vals = [x[i][t] for i in range(len(x)) for t in range(len(x[i])) if mask[i][t] > 0]
    n = len(vals)
    m = sum(vals) / n
    var = sum((v - m) ** 2 for v in vals) / (n - 1)
    return [[(x[i][t] - m) / math.sqrt(var + eps) if mask[i][t] > 0 else 0.0 for t in range(len(x[i]))] for i in range(len(x))]


def rpp(r, mask, gamma, eps=1e-8):
    # reward on the last model token; returns discount over model tokens only, observations pass through
    ret = []
    for i, row in enumerate(mask):
        model = [t for t in range(len(row)) if row[t] > 0]
        out = [0.0] * len(row)
        for k, t in enumerate(model):
            out[t] = r[i] * gamma ** (len(model) - 1 - k)
        ret.append(out)
    return whiten(ret, mask, eps)


def rpp_reset(r, mask, gamma, eps=1e-8):
    # VeRL's loop: the running return is multiplied by the mask after each step, so it restarts
    # from 0 at every observation token
    ret = []
    for i, row in enumerate(mask):
        last = max(t for t in range(len(row)) if row[t] > 0)
        out, running = [0.0] * len(row), 0.0
        for t in reversed(range(len(row))):
            running = (r[i] if t == last else 0.0) + gamma * running
            out[t] = running
            running *= row[t]
        ret.append(out)
    return whiten(ret, mask, eps)


def rpp_baseline(r, gids, mask, eps=1e-8):
    mean, _, _ = group_mean_std(r, gids)
    return whiten([[r[i] - mean[i]] * len(mask[i]) for i in range(len(r))], mask, eps)


def clip01(x):
    return min(1.0, max(0.0, x))


def adpo_adv(r, gids, mask, s, s_lo=0.3, s_hi=0.8, a_min=0.6, norm=True, eps=1e-6):
    mean, std, _ = group_mean_std(r, gids)
    sc = []
    for i in range(len(r)):
        a = (r[i] - mean[i]) / (std[i] + eps) if norm else r[i] - mean[i]
        sc.append(a * (a_min + (1 - a_min) * clip01((s[i] - s_lo) / (s_hi - s_lo))))
    return broadcast(sc, mask)


def advantage_cases():
    # 7 rows: group a (4, with an observation run in the middle of row 1), b (2), c (1); T = 7
    gids = ['a', 'a', 'a', 'a', 'b', 'b', 'c']
    mask = [
        [0, 0, 1, 1, 1, 0, 0],
        [0, 1, 1, 0, 0, 1, 1],
        [0, 0, 1, 1, 1, 1, 1],
        [0, 0, 0, 1, 1, 0, 0],
        [0, 1, 1, 1, 0, 0, 0],
        [0, 1, 0, 1, 1, 1, 0],
        [0, 0, 1, 1, 0, 0, 0],
    ]
    r = to_list(f32([1.0, 0.0, 1.0, 0.25, 0.5, 0.5, 0.75]))
    s = to_list(f32([0.2, 0.55, 0.8, 0.95, 0.3, 0.3, 0.65]))
    cases = []

    def add(name, estimator, options, expected, fields=None, gamma=None):
        c = {'name': name, 'estimator': estimator, 'options': options, 'rewards': r, 'groupIds': gids,
             'mask': mask, 'fields': fields or {}, 'expected': expected}
        if gamma is not None:
            c['gamma'] = gamma
        cases.append(c)

    add('grpo', 'grpo', {}, grpo(r, gids, mask))
    add('grpo without std', 'grpo', {'norm_adv_by_std_in_grpo': False}, grpo(r, gids, mask, norm=False))
    add('drgrpo', 'drgrpo', {}, grpo(r, gids, mask, norm=False))
    add('rloo', 'rloo', {}, rloo(r, gids, mask))
    add('reinforce++ gamma 1', 'reinforce_plus_plus', {}, rpp(r, mask, 1.0))
    add('reinforce++ gamma 0.9', 'reinforce_plus_plus', {'gamma': 0.9}, rpp(r, mask, 0.9))
    add('reinforce++ reset at observations', 'reinforce_plus_plus', {'at_masked': 'reset'}, rpp_reset(r, mask, 1.0))
    add('reinforce++ reset gamma 0.9', 'reinforce_plus_plus', {'gamma': 0.9, 'at_masked': 'reset'}, rpp_reset(r, mask, 0.9))
    add('reinforce++-baseline', 'reinforce_plus_plus_baseline', {}, rpp_baseline(r, gids, mask))
    add('adpo', 'adpo', {}, adpo_adv(r, gids, mask, s), {'selfConsistency': s})
    add('adpo a_min 0.5 no std', 'adpo', {'a_min': 0.5, 'norm_adv_by_std_in_grpo': False},
        adpo_adv(r, gids, mask, s, a_min=0.5, norm=False), {'selfConsistency': s})
    return cases


# ---------------------------------------------------------------- aggregation

def aggregate(mode, L, M, tokens=None, seqs=None, horizon=None):
    B, T = len(M), len(M[0])
    # seq-mean-* average over the rows that have tokens (verl's agg_loss leaves empty rows out)
    S = seqs if seqs is not None else sum(1 for row in M if sum(row) > 0)
    if mode == 'token-mean':
        N = tokens if tokens is not None else sum(sum(row) for row in M)
        return sum(L[i][t] for i in range(B) for t in range(T) if M[i][t] > 0) / max(N, 1)
    if mode == 'seq-mean-token-sum':
        return sum(sum(L[i][t] for t in range(T) if M[i][t] > 0) for i in range(B)) / max(S, 1)
    if mode == 'seq-mean-token-mean':
        return sum(sum(L[i][t] for t in range(T) if M[i][t] > 0) / max(sum(M[i]), 1) for i in range(B)) / max(S, 1)
    if mode == 'seq-mean-token-sum-norm':
        # verl: the token sum over the whole batch over the constant C, not divided by the rows
        C = horizon if horizon is not None else T
        return sum(sum(L[i][t] for t in range(T) if M[i][t] > 0) for i in range(B)) / C
    raise ValueError(mode)


AGG_MODES = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean', 'seq-mean-token-sum-norm']


def agg_cases():
    M = [[1, 1, 0, 0, 0], [0, 1, 1, 1, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1]]
    L = to_list(f32(rng.normal(0, 1, (4, 5))))
    L[2][1] = 1e30  # a huge value off the mask must not leak
    cases = []
    for mode in AGG_MODES:
        cases.append({'name': mode, 'mode': mode, 'loss': L, 'mask': M, 'expected': aggregate(mode, L, M)})
        cases.append({'name': mode + ' with norm', 'mode': mode, 'loss': L, 'mask': M, 'norm': {'tokens': 20, 'seqs': 10},
                      'expected': aggregate(mode, L, M, tokens=20, seqs=10)})
    cases.append({'name': 'seq-mean-token-sum-norm horizon 8', 'mode': 'seq-mean-token-sum-norm', 'horizon': 8, 'loss': L,
                  'mask': M, 'expected': aggregate('seq-mean-token-sum-norm', L, M, horizon=8)})
    return cases


# ---------------------------------------------------------------- policy losses

def clip(x, lo, hi):
    return min(hi, max(lo, x))


LOG_RATIO_BOUND = 20.0


def token_ratio(lp, o):
    return math.exp(clip(lp - o, -LOG_RATIO_BOUND, LOG_RATIO_BOUND))


def surrogate(ratio, A, lo, hi, c=None):
    l1, l2 = -A * ratio, -A * clip(ratio, 1 - lo, 1 + hi)
    L = max(l1, l2)
    if c is not None and A < 0:
        L = min(L, -A * c)
    return L


def ppo_matrix(logp, old, adv, mask, lo, hi, c=None):
    B, T = len(mask), len(mask[0])
    his = hi if isinstance(hi, list) else [hi] * B
    return [[surrogate(token_ratio(logp[i][t], old[i][t]), adv[i][t], lo, his[i], c) if mask[i][t] > 0 else 0.0
             for t in range(T)] for i in range(B)]


def gspo_matrix(logp, old, adv, mask, lo, hi):
    B, T = len(mask), len(mask[0])
    out = []
    for i in range(B):
        n = sum(mask[i])
        lr = sum(logp[i][t] - old[i][t] for t in range(T) if mask[i][t] > 0) / max(n, 1)
        s = math.exp(min(lr, 10.0))
        out.append([surrogate(s, adv[i][t], lo, hi) if mask[i][t] > 0 else 0.0 for t in range(T)])
    return out


def adpo_eps_high(s, eps=0.2, b=0.1, s_lo=0.3, s_hi=0.8, form='linear'):
    if form == 'inverse':
        return eps * s_hi / clip(s, s_lo, s_hi)
    return eps + b * clip01((s_hi - s) / (s_hi - s_lo))


def clip_metrics(logp, old, adv, mask, lo, hi, c, seq=False):
    B, T = len(mask), len(mask[0])
    his = hi if isinstance(hi, list) else [hi] * B
    n = sum(sum(row) for row in mask)
    high = low = dual = 0
    ratios = []
    for i in range(B):
        if seq:
            k = sum(mask[i])
            seq_r = math.exp(min(sum(logp[i][t] - old[i][t] for t in range(T) if mask[i][t] > 0) / max(k, 1), 10.0))
        for t in range(T):
            if mask[i][t] <= 0:
                continue
            r = seq_r if seq else token_ratio(logp[i][t], old[i][t])
            ratios.append(r)
            A = adv[i][t]
            if A > 0 and r > 1 + his[i]:
                high += 1
            if A < 0 and r < 1 - lo:
                low += 1
            if c is not None and A < 0 and max(-A * r, -A * clip(r, 1 - lo, 1 + his[i])) > -A * c:
                dual += 1
    kl = sum(old[i][t] - logp[i][t] for i in range(B) for t in range(T) if mask[i][t] > 0) / n
    out = {'pg_clipfrac_high': high / n, 'pg_clipfrac_low': low / n, 'pg_clipfrac_dual': dual / n, 'ppo_kl': kl,
           'ratio_mean': sum(ratios) / len(ratios), 'ratio_min': min(ratios), 'ratio_max': max(ratios)}
    if isinstance(hi, list):
        out['clip_high_mean'] = sum(his[i] * sum(mask[i]) for i in range(B)) / n
    return out


def fd_grad(f, x, h=1e-6):
    g = [[0.0] * len(row) for row in x]
    for i in range(len(x)):
        for t in range(len(x[i])):
            xp = [row[:] for row in x]
            xm = [row[:] for row in x]
            xp[i][t] += h
            xm[i][t] -= h
            g[i][t] = (f(xp) - f(xm)) / (2 * h)
    return g


def loss_cases():
    B, T = 5, 6
    mask = [[0, 1, 1, 1, 1, 0], [0, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 1, 0, 1, 1, 1]]
    logp = f32(rng.uniform(-3.0, -0.1, (B, T)))
    old = f32(logp + rng.normal(0, 0.3, (B, T)))
    seq_adv = f32(rng.normal(0, 1, B))
    tok_adv = [[float(seq_adv[i]) if mask[i][t] else 0.0 for t in range(T)] for i in range(B)]
    logp_l, old_l = to_list(logp), to_list(old)
    s = to_list(f32([0.1, 0.5, 0.85, 0.65, 0.3]))
    entropy = to_list(f32(rng.uniform(0.5, 3.0, (B, T))))
    # GSPO needs ratios inside and outside its narrow band: old close to logp for some rows
    old_g = to_list(f32(logp + rng.normal(0, 1e-3, (B, T))))
    cases = []

    def add(name, loss, options, agg, mat_fn, metrics, fields=None, old_lp=None, ent=None, ent_coeff=0.0):
        o = old_lp if old_lp is not None else old_l

        def value(lp):
            v = aggregate(agg, mat_fn(lp, o), mask)
            if ent_coeff:
                v -= ent_coeff * aggregate(agg, ent, mask)
            return v

        case = {'name': name, 'loss': loss, 'options': options, 'agg': agg, 'logp': logp_l, 'old': o, 'adv': tok_adv,
                'mask': mask, 'fields': fields or {}, 'expected': value(logp_l), 'metrics': metrics,
                'grad': fd_grad(value, logp_l)}
        if ent is not None:
            case['entropy'] = ent
        cases.append(case)

    A = tok_adv
    # policy-loss/vanilla applies verl's dual clip c = 3 unless told otherwise
    add('vanilla symmetric', 'vanilla', {}, 'token-mean', lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, 0.2, 3.0),
        clip_metrics(logp_l, old_l, A, mask, 0.2, 0.2, 3.0))
    add('vanilla low/high', 'vanilla', {'clip_ratio_low': 0.1, 'clip_ratio_high': 0.3}, 'seq-mean-token-mean',
        lambda lp, o: ppo_matrix(lp, o, A, mask, 0.1, 0.3, 3.0), clip_metrics(logp_l, old_l, A, mask, 0.1, 0.3, 3.0))
    add('vanilla without dual clip', 'vanilla', {'clip_ratio_c': None}, 'token-mean', lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, 0.2),
        clip_metrics(logp_l, old_l, A, mask, 0.2, 0.2, None))
    # a larger spread so that the dual clip (c = 1.2) is active somewhere
    old_d = to_list(f32(logp + rng.normal(0, 0.6, (B, T))))
    add('vanilla dual clip', 'vanilla', {'clip_ratio_c': 1.2}, 'token-mean',
        lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, 0.2, 1.2), clip_metrics(logp_l, old_d, A, mask, 0.2, 0.2, 1.2), old_lp=old_d)
    add('dapo', 'dapo', {}, 'token-mean', lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, 0.28),
        clip_metrics(logp_l, old_l, A, mask, 0.2, 0.28, None))
    add('vanilla entropy bonus', 'vanilla', {'entropy_coeff': 0.01}, 'token-mean',
        lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, 0.2, 3.0), clip_metrics(logp_l, old_l, A, mask, 0.2, 0.2, 3.0),
        ent=entropy, ent_coeff=0.01)
    add('gspo', 'gspo', {}, 'seq-mean-token-mean', lambda lp, o: gspo_matrix(lp, o, A, mask, 3e-4, 4e-4),
        clip_metrics(logp_l, old_g, A, mask, 3e-4, 4e-4, None, seq=True), old_lp=old_g)
    add('gspo wide clip token-mean', 'gspo', {'clip_ratio_low': 0.05, 'clip_ratio_high': 0.05}, 'token-mean',
        lambda lp, o: gspo_matrix(lp, o, A, mask, 0.05, 0.05), clip_metrics(logp_l, old_l, A, mask, 0.05, 0.05, None, seq=True))
    hi_lin = [adpo_eps_high(v) for v in s]
    add('adpo linear', 'adpo', {}, 'token-mean', lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, hi_lin),
        clip_metrics(logp_l, old_l, A, mask, 0.2, hi_lin, None), fields={'selfConsistency': s})
    hi_inv = [adpo_eps_high(v, form='inverse') for v in s]
    add('adpo inverse', 'adpo', {'clip_high_form': 'inverse'}, 'seq-mean-token-sum',
        lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, hi_inv), clip_metrics(logp_l, old_l, A, mask, 0.2, hi_inv, None),
        fields={'selfConsistency': s})
    add('adpo dual clip', 'adpo', {'clip_ratio_c': 1.2}, 'token-mean', lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, hi_lin, 1.2),
        clip_metrics(logp_l, old_d, A, mask, 0.2, hi_lin, 1.2), fields={'selfConsistency': s}, old_lp=old_d)
    # log-ratios beyond ±20 are clamped before exp: the ratio stays finite and the clamped tokens get no gradient
    old_x = [row[:] for row in old_l]
    old_x[1][2] = logp_l[1][2] - 25.0
    old_x[2][0] = logp_l[2][0] + 25.0
    old_x[2][3] = logp_l[2][3] - 21.0
    add('vanilla extreme log-ratios', 'vanilla', {'clip_ratio_c': 3.0}, 'token-mean',
        lambda lp, o: ppo_matrix(lp, o, A, mask, 0.2, 0.2, 3.0), clip_metrics(logp_l, old_x, A, mask, 0.2, 0.2, 3.0), old_lp=old_x)
    return cases


# ---------------------------------------------------------------- KL

def kl_value(kind, lp, ref):
    d = lp - ref
    if kind == 'k1':
        return d
    if kind == 'abs':
        return abs(d)
    if kind in ('k2', 'mse'):
        return 0.5 * d * d
    if kind in ('k3', 'low_var_kl'):
        k = ref - lp
        return clip(math.exp(k) - k - 1, -10.0, 10.0)
    raise ValueError(kind)


def kl_cases():
    lp = f32(rng.uniform(-4, -0.1, (3, 4)))
    ref = f32(lp + rng.normal(0, 0.7, (3, 4)))
    ref[0, 0] = lp[0, 0] + 14.0  # k3 clamps at 10 here
    ref[1, 1] = lp[1, 1] - 30.0  # and at the bound of the input clamp
    ref[2, 2] = lp[2, 2]  # policy equal to the reference: abs has subgradient 0 there
    lp_l, ref_l = to_list(lp), to_list(ref)
    cases = []
    for kind in ['k1', 'abs', 'k2', 'mse', 'k3', 'low_var_kl']:
        val = [[kl_value(kind, lp_l[i][t], ref_l[i][t]) for t in range(4)] for i in range(3)]
        grad = fd_grad(lambda x: sum(kl_value(kind, x[i][t], ref_l[i][t]) for i in range(3) for t in range(4)), lp_l)
        cases.append({'name': kind, 'type': kind, 'logp': lp_l, 'ref': ref_l, 'expected': val, 'grad': grad})
        st_grad = [[lp_l[i][t] - ref_l[i][t] for t in range(4)] for i in range(3)]
        cases.append({'name': kind + '+', 'type': kind + '+', 'logp': lp_l, 'ref': ref_l, 'expected': val, 'grad': st_grad})
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, cases in [('advantages', advantage_cases()), ('aggregation', agg_cases()),
                        ('policy_losses', loss_cases()), ('kl', kl_cases())]:
        with open(os.path.join(OUT, name + '.json'), 'w') as f:
            json.dump({'generator': 'scripts/algorithms_reference.py', 'cases': cases}, f, indent=1)
        print(f'{name}: {len(cases)} cases')


if __name__ == '__main__':
    main()
