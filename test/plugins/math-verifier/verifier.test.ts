import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type CliEnv, createRegistry, DefaultCliEnv, majorityVote } from '../../../core/index.js';
import { testVerifier } from '../../../core/testkit/index.js';
import mathVerifierPlugin from '../../../plugins/math-verifier/index.js';
import { readCases } from '../../../plugins/math-verifier/cases.js';
import { benchVerifierCommand, runVerifierBench, verifyCommand } from '../../../plugins/math-verifier/commands.js';
import { DEFAULT_VERIFIER, MathVerifier } from '../../../plugins/math-verifier/verifier.js';

testVerifier('verifier/math', () => new MathVerifier(DEFAULT_VERIFIER), {
  pairs: [
    { gold: '7', pred: '7.0', expected: true },
    { gold: '\\frac{1}{2}', pred: '0.5', expected: true },
    { gold: '(1,2)', pred: '(2,1)', expected: false },
    { gold: 'x^2-1', pred: '(x-1)(x+1)', expected: true },
    { gold: '2^{100}', pred: '2^{99}', expected: false },
  ],
  extract: [
    { response: 'so the result is \\boxed{\\frac{1}{2}}.', answer: '\\frac{1}{2}' },
    { response: 'The final answer is $7$. I hope it is correct.', answer: '7' },
    { response: 'I cannot tell.', answer: null },
  ],
});

// nested sums over 10^12 terms: the evaluator would run for hours
const PATHOLOGICAL = '\\sum_{a=1}^{9999}\\sum_{b=1}^{9999}\\sum_{c=1}^{9999} a';

describe('math verifier: pool, timeouts and fast path', () => {
  it('answers a pathological comparison false at the timeout, and the pool keeps working after', async () => {
    const v = new MathVerifier({ ...DEFAULT_VERIFIER, timeoutMs: 200, workers: 1 });
    try {
      await v.ready();
      const t = performance.now();
      expect(await v.equivalent('1', PATHOLOGICAL)).to.equal(false);
      const ms = performance.now() - t;
      expect(ms).to.be.within(190, 1500);
      expect(v.stats.timeouts).to.equal(1);
      // the replaced worker starts, then answers symbolic comparisons again
      expect(await v.equivalent('x^2-1', '(x-1)(x+1)')).to.equal(true);
      expect(await v.equivalent('x^2-1', '(x-1)(x+2)')).to.equal(false);
      expect(v.stats.timeouts).to.equal(1);
    } finally {
      await v.dispose();
    }
  });

  it('decides plain numbers and identical answers in-thread, the rest in workers, and caches verdicts', async () => {
    const v = new MathVerifier(DEFAULT_VERIFIER);
    try {
      expect(await v.equivalent('12', '12.00')).to.equal(true);
      expect(await v.equivalent('12', '13')).to.equal(false);
      expect(await v.equivalent('1,234', '1234')).to.equal(true);
      expect(await v.equivalent('\\sqrt{2}', '\\sqrt{2}')).to.equal(true);
      expect(v.stats).to.include({ fast: 4, pooled: 0 });
      expect(await v.equivalent('\\sqrt{8}', '2\\sqrt{2}')).to.equal(true);
      expect(await v.equivalent('\\sqrt{8}', '2\\sqrt{2}')).to.equal(true);
      expect(v.stats).to.include({ fast: 4, pooled: 1, cached: 1 });
    } finally {
      await v.dispose();
    }
  });

  it('runs concurrent comparisons over several workers, each with its own verdict', async () => {
    const v = new MathVerifier({ ...DEFAULT_VERIFIER, workers: 2, cacheSize: 0 });
    try {
      const pairs: [string, string, boolean][] = Array.from({ length: 20 }, (_, i) => [
        `\\frac{${i}}{7}`,
        i % 2 ? `${i}/7` : `${i + 1}/7`,
        i % 2 === 1,
      ]);
      const got = await Promise.all(pairs.map(([g, p]) => v.equivalent(g, p)));
      expect(got).to.deep.equal(pairs.map((x) => x[2]));
    } finally {
      await v.dispose();
    }
  });

  it('falls back to compute-engine (isEqual, then random points) outside the local grammar, only when enabled', async () => {
    const on = new MathVerifier(DEFAULT_VERIFIER);
    const off = new MathVerifier({ ...DEFAULT_VERIFIER, symbolic: false });
    try {
      const g = '\\lfloor x \\rfloor + \\tan^2(y)+1';
      const p = '\\lfloor x \\rfloor + \\sec^2(y)';
      expect(await on.equivalent(g, p)).to.equal(true);
      expect(await on.equivalent('\\lfloor x \\rfloor', '\\lceil x \\rceil')).to.equal(false);
      expect(await on.equivalent('\\lfloor 3.7 \\rfloor', '3')).to.equal(true);
      expect(await off.equivalent(g, p)).to.equal(false);
    } finally {
      await Promise.all([on.dispose(), off.dispose()]);
    }
  });

  it('groups answers into equivalence classes for majority voting', async () => {
    const v = new MathVerifier(DEFAULT_VERIFIER);
    try {
      const r = await majorityVote(v, ['\\frac{1}{2}', '2', '0.5', '1/2', '2.0', 'x', '\\dfrac12']);
      expect(r.answer).to.equal('\\frac{1}{2}');
      expect(r.share).to.be.closeTo(4 / 7, 1e-12);
      expect(r.classes.map((c) => [c.answer, c.members])).to.deep.equal([
        ['\\frac{1}{2}', [0, 2, 3, 6]],
        ['2', [1, 4]],
        ['x', [5]],
      ]);
    } finally {
      await v.dispose();
    }
  });

  it('extracts a gold written with markup before comparing (verify)', async () => {
    const v = new MathVerifier(DEFAULT_VERIFIER);
    try {
      expect(await v.verify('$\\frac{14}{3}$', 'so $f = \\boxed{\\frac{14}{3}}$')).to.deep.equal({
        correct: true,
        extracted: '\\frac{14}{3}',
      });
      expect(await v.verify('5', 'nothing to see')).to.deep.equal({ correct: false, extracted: null });
    } finally {
      await v.dispose();
    }
  });

  it('is registered as verifier/math; options are validated and defaulted', async () => {
    const env = new DefaultCliEnv(await createRegistry([mathVerifierPlugin]), {
      builtins: [mathVerifierPlugin],
      stdout: () => undefined,
      stderr: () => undefined,
    });
    const v = await env.createComponent('verifier', 'math', { timeoutMs: 500 });
    try {
      expect(v).to.be.instanceOf(MathVerifier);
      expect(await v.equivalent('\\frac{3}{6}', '0.5')).to.equal(true);
    } finally {
      await v.dispose?.();
    }
    const failure = (o: Record<string, unknown>) =>
      env.createComponent('verifier', 'math', o).then(
        () => '',
        (e: Error) => e.message,
      );
    expect(await failure({ timeoutMs: 'soon' })).to.match(/timeoutMs/);
    expect(await failure({ nope: 1 })).to.match(/nope/);
  });
});

describe('agent0 verify', () => {
  it('writes one line per input, in order, with correct, extracted and errors for malformed lines', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'agent0-verify-'));
    await writeFile(
      path.join(dir, 'in.jsonl'),
      [
        JSON.stringify({ gold: '2', pred: 'so \\boxed{2}' }),
        'not json',
        JSON.stringify({ gold: '\\frac{1}{2}', pred: 'The answer is $0.75$.' }),
        '',
        JSON.stringify({ gold: 3 }),
        JSON.stringify({ gold: '(1,2)', pred: '$(1, 2)$' }),
      ].join('\n'),
    );
    const err: string[] = [];
    const env = { cwd: dir, stdout: () => undefined, stderr: (s: string) => err.push(s) } as unknown as CliEnv;
    expect(await verifyCommand.run(['--jsonl', 'in.jsonl', '--out', 'out.jsonl'], env)).to.equal(0);
    const out = (await readFile(path.join(dir, 'out.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out.map((o) => [o.line, o.correct, o.extracted])).to.deep.equal([
      [1, true, '2'],
      [2, false, null],
      [3, false, '0.75'],
      [5, false, null],
      [6, true, '(1, 2)'],
    ]);
    expect(out[1]!.error).to.match(/not JSON/);
    expect(out[3]!.error).to.match(/gold.*pred/);
    expect(err.join('\n')).to.match(/verified 5 lines: 2 correct/);
    err.length = 0;
    expect(await verifyCommand.run(['--jsonl', 'in.jsonl', '--options', '{"timeoutMs": 1, "nope": 2}'], env)).to.equal(
      2,
    );
    expect(err.join('\n'))
      .to.match(/nope/)
      .and.match(/timeoutMs must be >= 10/);
  });
});

describe('agent0 bench verifier', () => {
  it('reports median <= p95 <= max per comparison, accuracy and per-category counts', async () => {
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'math-verify-cases.jsonl');
    const cases = (await readCases(file)).slice(0, 30);
    const r = await runVerifierBench(cases, { passes: 2, file });
    expect(r.cases).to.equal(30);
    expect(r.medianMs).to.be.above(0);
    expect(r.medianMs).to.be.at.most(r.p95Ms);
    expect(r.p95Ms).to.be.at.most(r.maxMs);
    expect(r.inThread + r.inWorkers).to.equal(60);
    expect(Object.values(r.byCategory).reduce((a, c) => a + c.n, 0)).to.equal(30);
    expect(r.accuracy).to.be.within(0, 1);
    const out: string[] = [];
    const env = {
      cwd: process.cwd(),
      stdout: (s: string) => out.push(s),
      stderr: (s: string) => out.push(s),
    } as unknown as CliEnv;
    expect(await benchVerifierCommand.run(['--file', '/nonexistent.jsonl', '--passes', '0'], env)).to.equal(2);
    expect(out.join('\n')).to.match(/--passes/);
  });
});
