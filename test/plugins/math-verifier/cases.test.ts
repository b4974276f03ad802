import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { caseOptions, optionsKey, readCases } from '../../../plugins/math-verifier/cases.js';
import { DEFAULT_VERIFIER, MathVerifier } from '../../../plugins/math-verifier/verifier.js';

// a committed copy of ../shared/testdata/math-verify-cases.jsonl (Math-Verify's and Qwen2.5-Math's suites)
const FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'math-verify-cases.jsonl');

describe('math verifier: the 286 Math-Verify / Qwen2.5-Math cases', () => {
  it('agrees with at least 97% of the labels (per-category accuracy printed)', async () => {
    const cases = await readCases(FILE);
    expect(cases).to.have.length(286);
    const verifiers = new Map<string, MathVerifier>();
    const byCat = new Map<string, { n: number; ok: number }>();
    const wrong: string[] = [];
    try {
      for (const [i, c] of cases.entries()) {
        const o = caseOptions(c);
        const key = optionsKey(o);
        if (!verifiers.has(key)) verifiers.set(key, new MathVerifier({ ...DEFAULT_VERIFIER, ...o }));
        const r = await verifiers.get(key)!.verify(c.gold, c.pred);
        const s = byCat.get(c.category) ?? { n: 0, ok: 0 };
        s.n++;
        if (r.correct === c.expected) s.ok++;
        else
          wrong.push(
            `#${i} [${c.category}] expected ${c.expected}: gold ${JSON.stringify(c.gold.slice(-80))} pred ${JSON.stringify(r.extracted)}`,
          );
        byCat.set(c.category, s);
      }
    } finally {
      await Promise.all([...verifiers.values()].map((v) => v.dispose()));
    }
    const ok = [...byCat.values()].reduce((a, s) => a + s.ok, 0);
    const lines = [...byCat.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, s]) => `      ${k.padEnd(36)} ${s.ok}/${s.n}`);
    console.log(
      `      accuracy ${ok}/${cases.length} = ${((100 * ok) / cases.length).toFixed(1)}%\n${lines.join('\n')}${wrong.length ? `\n      wrong:\n      ${wrong.join('\n      ')}` : ''}`,
    );
    expect(ok / cases.length).to.be.at.least(0.97);
  });
});
