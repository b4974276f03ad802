import { expect } from 'chai';
import { Rng } from '../../../core/index.js';
import { ArithError, evaluate, tryEvaluate } from '../../../plugins/arith-world/expr.js';
import { generateProblem } from '../../../plugins/arith-world/generate.js';
import { measureDifficulty } from '../../../plugins/arith-world/difficulty.js';
import { DEFAULT_SPLITS, generateSplit } from '../../../plugins/arith-world/splits.js';
import { ArithTaskSource } from '../../../plugins/arith-world/task-source.js';
import { buildExamples, encodeExample } from '../../../plugins/arith-world/corpus.js';
import {
  DEFAULT_FORMAT,
  curriculumOutput,
  executorSolution,
  extractBoxed,
  parseCurriculumOutput,
  pythonFor,
} from '../../../plugins/arith-world/formats.js';
import { emulatePython } from '../../../plugins/arith-world/probe.js';
import { TinyTokenizer } from '../../../core/index.js';

describe('arith-world: exact arithmetic', () => {
  it('follows Python precedence and associativity, with exact division', () => {
    expect(evaluate('2 + 3 * 4')).to.equal(14n);
    expect(evaluate('(2 + 3) * 4')).to.equal(20n);
    expect(evaluate('2 ** 3 ** 2')).to.equal(512n); // right-assoc: 2 ** 9
    expect(evaluate('10 - 4 - 3')).to.equal(3n); // left-assoc
    expect(evaluate('84 / 7 + 1')).to.equal(13n);
    expect(evaluate('-7 // 2')).to.equal(-4n); // floor, as Python
    expect(evaluate('-7 % 3')).to.equal(2n); // sign of the divisor, as Python
    expect(evaluate('2 ** 70 - 1')).to.equal(1180591620717411303423n);
  });

  it('rejects what has no exact integer value or is outside the grammar', () => {
    for (const bad of ['7 / 2', '1 / 0', '5 % 0', '2 ** -1', '9 ** 9 ** 9', 'import os', '2 +', '']) {
      expect(() => evaluate(bad), bad).to.throw(ArithError);
      expect(tryEvaluate(bad), bad).to.equal(null);
    }
  });
});

describe('arith-world: problems and splits', () => {
  it('generates problems whose stated answer is their value, within the difficulty', () => {
    const rng = new Rng(7, 'test');
    for (let i = 0; i < 300; i++) {
      const p = generateProblem(rng, {
        minDigits: 2,
        maxDigits: 3,
        minOps: 2,
        maxOps: 3,
        operators: ['+', '-', '*', '/', '%'],
      });
      expect(evaluate(p.expr)).to.equal(p.answer);
      expect(p.ops).to.be.within(2, 3);
      const d = measureDifficulty(p.text);
      expect(d.parsed).to.equal(true);
      expect(d.ops).to.equal(p.ops);
      expect(d.maxDigits).to.be.within(2, 3);
    }
  });

  it('fixes each split by its own seed, and keeps the hard split out of train', () => {
    const a = generateSplit(DEFAULT_SPLITS.easy!);
    const b = generateSplit(DEFAULT_SPLITS.easy!);
    expect(a.map((p) => p.text)).to.deep.equal(b.map((p) => p.text));
    // easy: one operation on one-digit numbers (facts)
    for (const p of a) expect([p.ops, p.maxDigits], p.text).to.deep.equal([1, 1]);
    const src = new ArithTaskSource(DEFAULT_SPLITS);
    const hard = new Set(src.problems('hard').map((p) => p.text));
    expect(src.problems('train').some((p) => hard.has(p.text))).to.equal(false);
    for (const p of src.problems('hard')) expect(p.maxDigits).to.be.at.least(2);
  });

  it('measures and solves problem texts for reports (and nothing else)', () => {
    const src = new ArithTaskSource(DEFAULT_SPLITS);
    expect(src.solve('12 * (3 + 4)')).to.equal('84');
    expect(src.solve('Ann has 3 apples')).to.equal(undefined);
    // 12 (2 digits) + 3 + 4 = 4 digits, plus 2 operations
    expect(src.difficulty('12 * (3 + 4)')).to.deep.equal({ ops: 2, maxDigits: 2, answerDigits: 2, score: 6 });
    expect(src.difficulty('what is this')).to.equal(undefined);
  });
});

describe('arith-world: formats and corpus', () => {
  it('writes tool and direct solutions with the observation as its own segment', () => {
    const p = { text: '12 * 34 + 5', expr: '12 * 34 + 5', answer: 413n };
    expect(executorSolution(p, false, DEFAULT_FORMAT)).to.deep.equal([
      { text: 'I will compute it directly.\nThe answer is \\boxed{413}.' },
    ]);
    const tool = executorSolution(p, true, DEFAULT_FORMAT);
    expect(tool).to.deep.equal([
      { text: 'I will use python.\n```python\nprint(12 * 34 + 5)\n```\n```output' },
      { text: '\n413\n```\n', observation: true },
      { text: 'The answer is \\boxed{413}.' },
    ]);
    expect(pythonFor('84 / 7')).to.equal('print(84 // 7)');
    expect(emulatePython('print(84 // 7)')).to.equal('12');
    expect(emulatePython('import os')).to.equal('Error');
  });

  it('parses curriculum outputs, their own answer and their tool calls', () => {
    const text = curriculumOutput({ text: '9 * 9', expr: '9 * 9', answer: 81n }, true)
      .map((s) => s.text)
      .join('');
    expect(parseCurriculumOutput(text)).to.deep.equal({ question: '9 * 9', answer: '81', toolCalls: 1 });
    expect(parseCurriculumOutput('<question></question>\\boxed{1}')).to.equal(null);
    expect(extractBoxed('\\boxed{\\frac{1}{2}} and \\boxed{3}')).to.equal('3');
  });

  it('draws tool use at factToolRate for facts and toolRate for the rest', () => {
    const facts = Array.from({ length: 4000 }, () => ({ text: '3 + 4', expr: '3 + 4', answer: 7n, fact: true }));
    const rest = Array.from({ length: 4000 }, () => ({
      text: '31 * 4 + 2',
      expr: '31 * 4 + 2',
      answer: 126n,
      fact: false,
    }));
    const ex = buildExamples([...facts, ...rest], new Rng(1, 'corpus'), {
      curriculumShare: 0,
      toolRate: 0.4,
      factToolRate: 0.05,
      format: DEFAULT_FORMAT,
    });
    const rate = (xs: typeof ex) => xs.filter((e) => e.tool).length / xs.length;
    expect(rate(ex.slice(0, 4000))).to.be.closeTo(0.05, 0.015);
    expect(rate(ex.slice(4000))).to.be.closeTo(0.4, 0.03);
    const same = buildExamples(rest, new Rng(1, 'corpus'), {
      curriculumShare: 0,
      toolRate: 0.4,
      format: DEFAULT_FORMAT,
    });
    expect(rate(same)).to.be.closeTo(0.4, 0.03);
  });

  it('masks the prompt and the observation out of the pretraining loss', () => {
    const tok = new TinyTokenizer();
    const [ex] = buildExamples([{ text: '2 + 2', expr: '2 + 2', answer: 4n }], new Rng(0, 'c'), {
      curriculumShare: 0,
      toolRate: 1,
      format: DEFAULT_FORMAT,
    });
    const enc = encodeExample(ex!, tok, 1000)!;
    const trained = enc.ids.filter((_, i) => enc.lossMask[i] === 1);
    const text = tok.decode(trained.slice(0, -1));
    expect(text).to.equal('I will use python.\n```python\nprint(2 + 2)\n```\n```outputThe answer is \\boxed{4}.');
    expect(trained[trained.length - 1]).to.equal(tok.eosIds[0]);
    expect(encodeExample(ex!, tok, 10)).to.equal(null);
  });
});
