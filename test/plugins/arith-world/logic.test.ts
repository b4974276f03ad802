import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { Rng, type Completion, type RolloutEngine, type SamplingParams, type Tokenizer } from '../../../core/index.js';
import { ArithError, countOps, evaluate, formatExpr, literals, parseExpr } from '../../../plugins/arith-world/expr.js';
import { measureDifficulty } from '../../../plugins/arith-world/difficulty.js';
import { generateProblem } from '../../../plugins/arith-world/generate.js';
import { generateSplit, problemToTask, sampleMix } from '../../../plugins/arith-world/splits.js';
import { ArithTaskSource } from '../../../plugins/arith-world/task-source.js';
import { batchRows, buildExamples, encodeExample, makeBatch } from '../../../plugins/arith-world/corpus.js';
import {
  DEFAULT_FORMAT,
  OUTPUT_STOP,
  countToolCalls,
  curriculumOutput,
  executorPrompt,
  extractBoxed,
  formatObservation,
  parseCurriculumOutput,
  pythonFor,
} from '../../../plugins/arith-world/formats.js';
import {
  CACHE_MARKER,
  bootstrapCacheRoot,
  cacheHit,
  contentHash,
  stableJson,
} from '../../../plugins/arith-world/cache.js';
import { lrAt } from '../../../plugins/arith-world/bootstrap.js';
import { nextTokenLoss } from '../../../plugins/arith-world/pretrain-loss.js';
import {
  emulatePython,
  probeCurriculum,
  probeExecutor,
  rolloutWithEmulatedTool,
} from '../../../plugins/arith-world/probe.js';
import { tmpDir } from '../../core/helpers.js';
import { chars } from '../pipeline/helpers.js';

const reformat = (src: string, spaces = true) => formatExpr(parseExpr(src), spaces);

describe('arith-world: expressions', () => {
  it("prints with the fewest parentheses that keep Python's meaning", () => {
    expect(reformat('10 - (4 - 3)')).to.equal('10 - (4 - 3)');
    expect(reformat('(10 - 4) - 3')).to.equal('10 - 4 - 3');
    expect(reformat('2 * (3 // 2)')).to.equal('2 * (3 // 2)');
    expect(reformat('(2 * 3) // 2')).to.equal('2 * 3 // 2');
    expect(reformat('2 ** 3 ** 2')).to.equal('2 ** 3 ** 2');
    expect(reformat('(2 ** 3) ** 2')).to.equal('(2 ** 3) ** 2');
    expect(reformat('-(1 + 2)')).to.equal('-(1 + 2)');
    expect(reformat('- -3')).to.equal('-(-3)');
    expect(reformat('(-2) ** 2')).to.equal('(-2) ** 2');
    expect(reformat('10 - (4 - 3)', false)).to.equal('10-(4-3)');
  });

  it('binds unary minus below ** and floors // and % as Python does', () => {
    expect(evaluate('-2 ** 2')).to.equal(-4n);
    expect(evaluate('(-2) ** 2')).to.equal(4n);
    expect(evaluate('7 // -2')).to.equal(-4n);
    expect(evaluate('7 % -2')).to.equal(-1n);
    expect(evaluate('1\t+ 2')).to.equal(3n);
    expect(evaluate('1 ** 100000')).to.equal(1n);
  });

  it('allows results of up to 400 digits', () => {
    expect(evaluate('10 ** 399').toString()).to.have.length(400);
    expect(() => evaluate('10 ** 400')).to.throw(ArithError, 'power too large');
  });

  it('says what is wrong with a text outside the grammar', () => {
    expect(() => evaluate('2 & 3')).to.throw(ArithError, "unexpected character '&' at 2");
    expect(() => evaluate('(1 + 2')).to.throw(ArithError, 'missing )');
    expect(() => evaluate('1 2')).to.throw(ArithError, 'trailing tokens after position 1');
    expect(() => evaluate(')')).to.throw(ArithError, 'unexpected )');
    expect(() => evaluate('2 +')).to.throw(ArithError, 'unexpected end of expression');
    expect(() => evaluate('')).to.throw(ArithError, 'empty expression');
    expect(() => evaluate('7 / 2')).to.throw(ArithError, '7 / 2 is not an integer');
  });

  it('counts operations by operator and lists the literals left to right', () => {
    expect(countOps(parseExpr('1 + 2 * 3 - 4'))).to.deep.equal({ '-': 1, '+': 1, '*': 1 });
    expect(literals(parseExpr('-(12 + 3) * 4'))).to.deep.equal([12n, 3n, 4n]);
  });
});

describe('arith-world: difficulty of a text', () => {
  it('measures an expression from its parse', () => {
    expect(measureDifficulty('12 * (3 + 4)')).to.deep.equal({
      parsed: true,
      numbers: 3,
      maxDigits: 2,
      meanDigits: 4 / 3,
      ops: 2,
      parens: 1,
      byOp: { '*': 1, '+': 1 },
      answerDigits: 2,
      score: 6,
    });
    expect(measureDifficulty('-7 * 3')).to.deep.include({
      parsed: true,
      numbers: 2,
      ops: 1,
      answerDigits: 2,
      score: 3,
    });
    // parses, but has no integer value
    expect(measureDifficulty('7 / 2')).to.deep.include({ parsed: true, answerDigits: 0, score: 3 });
  });

  it('estimates a word problem from its numbers, and never throws', () => {
    expect(measureDifficulty('Ann has 12 apples and gets 7 more.')).to.deep.equal({
      parsed: false,
      numbers: 2,
      maxDigits: 2,
      meanDigits: 1.5,
      ops: 1,
      parens: 0,
      byOp: {},
      answerDigits: 0,
      score: 4,
    });
    expect(measureDifficulty('  ')).to.deep.equal({
      parsed: false,
      numbers: 0,
      maxDigits: 0,
      meanDigits: 0,
      ops: 0,
      parens: 0,
      byOp: {},
      answerDigits: 0,
      score: 0,
    });
  });
});

describe('arith-world: problem generation', () => {
  it('refuses an empty difficulty range', () => {
    expect(() => generateProblem(new Rng(1), { minDigits: 0 })).to.throw(RangeError);
    expect(() => generateProblem(new Rng(1), { minOps: 2, maxOps: 1 })).to.throw(RangeError);
  });

  it('writes one-operation word problems whose expression is their answer, never negative or inexact', () => {
    const rng = new Rng(11, 'words');
    const ops = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generateProblem(rng, { wordProb: 1, operators: ['+', '-', '*', '/'], maxDigits: 2 });
      expect(p.kind).to.equal('word');
      expect(p.ops).to.equal(1);
      expect(evaluate(p.expr), p.text).to.equal(p.answer);
      expect(p.answer >= 0n, p.text).to.equal(true);
      const [a, op, b] = p.expr.split(' ');
      ops.add(op as string);
      expect(p.text, p.expr)
        .to.match(new RegExp(`\\b${a}\\b`))
        .and.match(new RegExp(`\\b${b}\\b`));
      expect(p.maxDigits).to.equal(Math.max((a as string).length, (b as string).length));
    }
    expect([...ops].sort()).to.deep.equal(['*', '+', '-', '/']);
    // no template for %: an expression instead
    expect(generateProblem(new Rng(1), { wordProb: 1, operators: ['%'] }).kind).to.equal('expr');
  });

  it('draws powers from [2, powBaseMax] ** [2, powExpMax]', () => {
    const rng = new Rng(2, 'pow');
    const texts = new Set(
      Array.from({ length: 100 }, () => generateProblem(rng, { operators: ['**'], powBaseMax: 3, powExpMax: 2 }).text),
    );
    expect([...texts].sort()).to.deep.equal(['2 ** 2', '3 ** 2']);
  });

  it('follows parenProb, keeps / exact and % by at least 2, and is deterministic in the rng', () => {
    const rng = new Rng(4, 'parens');
    for (let i = 0; i < 100; i++) {
      expect(generateProblem(rng, { minOps: 2, maxOps: 3, parenProb: 1, operators: ['+', '-', '*'] }).text).to.contain(
        '(',
      );
      expect(
        generateProblem(rng, { minOps: 2, maxOps: 3, parenProb: 0, operators: ['+', '-', '*'] }).text,
      ).to.not.contain('(');
      const d = generateProblem(rng, { maxDigits: 2, minOps: 1, maxOps: 2, operators: ['/', '%'] });
      expect(evaluate(d.text)).to.equal(d.answer);
      for (const m of d.text.matchAll(/% (\d+)/g)) expect(Number(m[1])).to.be.at.least(2);
    }
    const a = Array.from(
      { length: 20 },
      (
        (r) => () =>
          generateProblem(r, { maxDigits: 3, maxOps: 3 }).text
      )(new Rng(9, 'd')),
    );
    const b = Array.from(
      { length: 20 },
      (
        (r) => () =>
          generateProblem(r, { maxDigits: 3, maxOps: 3 }).text
      )(new Rng(9, 'd')),
    );
    expect(a).to.deep.equal(b);
  });
});

describe('arith-world: splits and the task source', () => {
  const facts = { minDigits: 1, maxDigits: 1, minOps: 1, maxOps: 1, operators: ['+' as const] };

  it('draws mixture parts by weight', () => {
    expect(() => sampleMix(new Rng(1), [])).to.throw(RangeError);
    const rng = new Rng(3, 'mix');
    const draws = Array.from({ length: 4000 }, () =>
      sampleMix(rng, [
        { ...facts, weight: 3 },
        { ...facts, minDigits: 3, maxDigits: 3, weight: 1 },
      ]),
    );
    expect(draws.filter((p) => p.maxDigits === 3).length / 4000).to.be.closeTo(0.25, 0.03);
  });

  it('skips excluded texts, and gives up once they leave nothing', () => {
    const all = new Set<string>();
    for (let a = 1; a <= 9; a++) for (let b = 1; b <= 9; b++) all.add(`${a} + ${b}`);
    const spec = { size: 2, seed: 1, mix: [facts] };
    expect(() => generateSplit(spec, 1, all)).to.throw('split space exhausted by exclusions');
    all.delete('3 + 4');
    expect(generateSplit(spec, 1, all).map((p) => p.text)).to.deep.equal(['3 + 4', '3 + 4']);
  });

  it('turns a problem into a task whose answer is also its true answer', () => {
    const p = { text: '12 * 34 + 5', expr: '12 * 34 + 5', answer: 413n, kind: 'expr' as const, ops: 2, maxDigits: 2 };
    expect(problemToTask(p, 'x')).to.deep.equal({
      id: 'x',
      problem: '12 * 34 + 5',
      answer: '413',
      trueAnswer: '413',
      meta: { expr: '12 * 34 + 5', ops: 2, maxDigits: 2, kind: 'expr' },
    });
  });

  it('loads a split by name, limit and seed; names the splits it has', async () => {
    const src = new ArithTaskSource({
      a: { size: 5, seed: 1, mix: [{ ...facts, maxDigits: 2 }] },
      b: { size: 30, seed: 2, mix: [facts], excludes: ['a', 'b'] },
    });
    expect((await src.load('a', { limit: 3 })).map((t) => t.id)).to.deep.equal(['arith-a-0', 'arith-a-1', 'arith-a-2']);
    const other = await src.load('a', { seed: 9 });
    expect(other.map((t) => t.id)[0]).to.equal('arith-a-s9-0');
    expect(other.map((t) => t.problem)).to.not.deep.equal((await src.load('a')).map((t) => t.problem));
    expect(src.problems('a')).to.equal(src.problems('a'));
    const a = new Set(src.problems('a').map((p) => p.text));
    expect(src.problems('b').some((p) => a.has(p.text))).to.equal(false);
    expect(() => src.spec('c')).to.throw("task-source/arith has no split 'c'; splits: a, b");
  });
});

describe('arith-world: corpus, formats and cache', () => {
  it('pads a batch on the right, with no loss on padding', () => {
    expect(
      makeBatch(
        [
          { ids: [1, 2, 3], lossMask: [0, 1, 1] },
          { ids: [4], lossMask: [1] },
        ],
        0,
      ),
    ).to.deep.equal({
      batch: {
        inputIds: [
          [1, 2, 3],
          [4, 0, 0],
        ],
        attentionMask: [
          [1, 1, 1],
          [1, 0, 0],
        ],
      },
      lossMask: [
        [0, 1, 1],
        [1, 0, 0],
      ],
    });
  });

  it("draws each step's rows from its epoch's shuffle, the same on a fresh rng (a resume)", () => {
    const rng = new Rng(5, 'b');
    const steps = [0, 1, 2].map((s) => batchRows(5, 2, s, rng));
    expect(new Set([...steps[0]!, ...steps[1]!]).size).to.equal(4);
    expect(batchRows(5, 2, 2, new Rng(5, 'b'))).to.deep.equal(steps[2]);
    expect(batchRows(3, 8, 0, new Rng(5, 'b')).sort()).to.deep.equal([0, 1, 2]);
  });

  it('trains on observations only when asked, and needs an eos', () => {
    const [ex] = buildExamples([{ text: '2 + 2', expr: '2 + 2', answer: 4n }], new Rng(0, 'c'), {
      curriculumShare: 0,
      toolRate: 1,
      format: DEFAULT_FORMAT,
    });
    const ones = (m: number[]) => m.filter((x) => x === 1).length;
    const masked = encodeExample(ex!, chars, 1000)!;
    const all = encodeExample(ex!, chars, 1000, true)!;
    const prompt = 'Problem: 2 + 2\nSolution:\n'.length;
    expect(ones(all.lossMask)).to.equal(all.ids.length - prompt);
    expect(ones(all.lossMask) - ones(masked.lossMask)).to.equal('\n4\n```\n'.length);
    const noEos: Tokenizer = { ...chars, eosIds: [] };
    expect(() => encodeExample(ex!, noEos, 1000)).to.throw('tokenizer has no eos id');
    const [cur] = buildExamples([{ text: '9 * 9', expr: '9 * 9', answer: 81n }], new Rng(0, 'c'), {
      curriculumShare: 1,
      toolRate: 0,
      format: DEFAULT_FORMAT,
    });
    expect(cur).to.deep.equal({
      role: 'curriculum',
      tool: false,
      prompt: 'Propose a new problem.\n',
      completion: [{ text: '<question>9 * 9</question>\n\\boxed{81}' }],
      answer: '81',
    });
  });

  it('formats prompts, observations and programs of the world', () => {
    expect(executorPrompt('1 + 2', { ...DEFAULT_FORMAT, executorPrompt: '{problem} = ? ({problem})' })).to.equal(
      '1 + 2 = ? (1 + 2)',
    );
    expect(formatObservation('5  \n\n')).to.equal('\n5\n```\n');
    expect(pythonFor('84 / 7 // 2')).to.equal('print(84 // 7 // 2)');
    expect(countToolCalls('```python\na\n```\nthen ```python\nb')).to.equal(2);
    expect(curriculumOutput({ text: '9 * 9', expr: '9 * 9', answer: 81n }, false)).to.deep.equal([
      { text: '<question>9 * 9</question>\n\\boxed{81}' },
    ]);
    expect(parseCurriculumOutput('<question> 2 + 2 </question> no answer')).to.deep.equal({
      question: '2 + 2',
      answer: null,
      toolCalls: 0,
    });
    expect(extractBoxed('\\boxed{a{b}}')).to.equal('a{b}');
    expect(extractBoxed('\\boxed{1} then \\boxed{2')).to.equal(null);
    expect(emulatePython('print(2 ** 10)')).to.equal('1024');
    expect(emulatePython('print(7 / 2)')).to.equal('Error');
  });

  it("the emulated tool answers every call of a rollout from that turn's own code block", async () => {
    const turns = [
      'Let me compute.\n```python\nprint(6 * 7)\n```\n```output',
      'And once more.\n```python\nprint(2 ** 10)\n```\n```output',
      '\\boxed{1024}',
    ];
    let call = 0;
    const engine = {
      tokenizer: { encode: (t: string) => [...t].map((c) => c.charCodeAt(0)) },
      generate: async (prompts: number[][]) =>
        prompts.map(() => {
          const text = turns[call++]!;
          const stop = text.endsWith('```output');
          return {
            text,
            tokenIds: [...text].map((c) => c.charCodeAt(0)),
            logProbs: [...text].map(() => -1),
            finishReason: stop ? 'stop' : 'length',
            ...(stop ? { stopString: '```output' } : {}),
          };
        }),
    };
    const [text] = await rolloutWithEmulatedTool(engine as never, [[1]], { maxNewTokens: 64, temperature: 0 });
    // Before: the second call's code was read from the first block on, and its output was 'Error'.
    expect(text).to.equal(`${turns[0]}\n42\n\`\`\`\n${turns[1]}\n1024\n\`\`\`\n${turns[2]}`);
  });

  it('hashes content independently of key order, and finds its cache', async () => {
    expect(stableJson({ b: 1, a: [{ d: undefined, c: 2 }], e: null })).to.equal('{"a":[{"c":2}],"b":1,"e":null}');
    expect(stableJson(undefined)).to.equal('null');
    expect(contentHash({ x: 1, y: [2] }))
      .to.equal(contentHash({ y: [2], x: 1 }))
      .and.have.length(16);
    expect(contentHash({ x: 1 }, 32))
      .to.have.length(32)
      .and.not.equal(contentHash({ x: 2 }, 32));
    expect(bootstrapCacheRoot('x', '/w', { AGENT0_CACHE: '/c' })).to.equal('/w/x');
    expect(bootstrapCacheRoot('', '/w', { AGENT0_CACHE: '/c' })).to.equal('/c/bootstrap');
    expect(bootstrapCacheRoot('', '/w', {})).to.equal('/w/.cache/agent0/bootstrap');
    const dir = await tmpDir();
    expect(await cacheHit(dir)).to.equal(false);
    await fs.writeFile(path.join(dir, CACHE_MARKER), '{}');
    expect(await cacheHit(dir)).to.equal(true);
  });
});

describe('arith-world: pretraining', () => {
  it('warms the learning rate up linearly, then decays it by a cosine to minLrRatio', () => {
    const o = { lr: 1, warmupSteps: 10, steps: 110, minLrRatio: 0.1 };
    expect(lrAt(0, o)).to.equal(0.1);
    expect(lrAt(9, o)).to.equal(1);
    expect(lrAt(10, o)).to.equal(1);
    expect(lrAt(60, o)).to.be.closeTo(0.55, 1e-12);
    expect(lrAt(110, o)).to.be.closeTo(0.1, 1e-12);
    expect(lrAt(500, o)).to.be.closeTo(0.1, 1e-12);
    expect(lrAt(0, { ...o, warmupSteps: 0 })).to.equal(1);
  });

  it('averages -log p over the masked tokens of the rows it is given', () => {
    const loss = nextTokenLoss([
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const value = (rows: number[], lp: number[][]) => {
      const out = loss({ logProbs: tf.tensor2d(lp), rows } as never);
      return [out.loss.dataSync()[0], out.metrics?.tokens];
    };
    expect(
      value(
        [0, 1],
        [
          [0, -1, -2],
          [0, -3, -4],
        ],
      )[0],
    ).to.be.closeTo(7 / 3, 1e-6);
    expect(
      value(
        [0, 1],
        [
          [0, -1, -2],
          [0, -3, -4],
        ],
      )[1],
    ).to.equal(3);
    expect(value([1], [[0, -3, -4]])).to.deep.equal([4, 1]);
    expect(() => loss({ logProbs: tf.tensor2d([[0, 1]]), rows: [0] } as never)).to.throw(
      RangeError,
      'loss mask row 0 has 3 columns, logProbs 2',
    );
    expect(() => loss({ logProbs: tf.tensor2d([[0, 1, 2]]), rows: [2] } as never)).to.throw(
      RangeError,
      'loss mask has no row 2',
    );
  });
});

describe('arith-world: probes of the base model', () => {
  /** Calls the tool for 2 + 3 (then answers from the observation), answers the rest directly. */
  class ToolUser implements RolloutEngine {
    readonly tokenizer = chars;
    readonly stops: (string[] | undefined)[] = [];
    async generate(prompts: number[][], params: SamplingParams): Promise<Completion[]> {
      this.stops.push(params.stop);
      return prompts.map((p) => {
        const ctx = chars.decode(p);
        const out = (text: string, stop = false): Completion => ({
          tokenIds: chars.encode(text),
          text,
          logProbs: [],
          finishReason: stop ? 'stop' : 'eos',
          ...(stop ? { stopString: OUTPUT_STOP } : {}),
        });
        if (ctx.endsWith('```\n')) return out(`The answer is \\boxed{${ctx.match(/```output\n(\S+)\n```\n$/)?.[1]}}.`);
        if (ctx.includes('2 + 3')) return out('I will use python.\n```python\nprint(2 + 3)\n```\n```output', true);
        if (ctx.includes('3 + 3')) return out('I will compute it directly.\nThe answer is \\boxed{7}.');
        if (ctx.includes('1 + 1')) return out('I will compute it directly.\nThe answer is \\boxed{2}.');
        return out('I do not know.');
      });
    }
  }

  it('runs tool calls through the emulated sandbox and scores each way of answering', async () => {
    const engine = new ToolUser();
    const tasks = [
      { problem: '2 + 3', answer: '5' },
      { problem: '3 + 3', answer: '6' },
      { problem: '1 + 1', answer: '2' },
      { problem: '4 + 4', answer: '8' },
    ];
    const r = await probeExecutor(engine, tasks);
    expect(r.texts[0]).to.equal(
      'I will use python.\n```python\nprint(2 + 3)\n```\n```output\n5\n```\nThe answer is \\boxed{5}.',
    );
    const { texts: _t, ...numbers } = r;
    expect(numbers).to.deep.equal({
      n: 4,
      accuracy: 0.5,
      toolRate: 0.25,
      boxedRate: 0.75,
      toolAccuracy: 1,
      directAccuracy: 1 / 3,
    });
    expect(engine.stops.every((s) => s?.length === 1 && s[0] === OUTPUT_STOP)).to.equal(true);
  });

  it("samples what the probe's own loop sampled before it ran on the shared tool loop", async () => {
    // The former loop, kept as the reference: rounds of every live row in index order, each turn
    // `maxNewTokens` fresh, a tool call at each OUTPUT_STOP stop while turns remain.
    async function formerLoop(engine: RolloutEngine, prompts: number[][], sampling: SamplingParams, maxTurns: number) {
      const texts = prompts.map(() => '');
      const ctx = prompts.map((p) => [...p]);
      let live = prompts.map((_, i) => i);
      for (let turn = 0; turn <= maxTurns && live.length > 0; turn++) {
        const outs = await engine.generate(
          live.map((i) => ctx[i]!),
          { ...sampling, stop: [OUTPUT_STOP] },
        );
        const next: number[] = [];
        outs.forEach((o, j) => {
          const i = live[j]!;
          texts[i] += o.text;
          ctx[i]!.push(...o.tokenIds);
          if (o.finishReason === 'stop' && o.stopString === OUTPUT_STOP && turn < maxTurns) {
            const code = /```python\n([\s\S]*?)```\s*```output$/.exec(o.text)?.[1] ?? '';
            const obs = formatObservation(emulatePython(code));
            texts[i] += obs;
            ctx[i]!.push(...chars.encode(obs));
            next.push(i);
          }
        });
        live = next;
      }
      return texts;
    }
    /** Draws from the stream of each row's position in the call (as an unkeyed batched generate does). */
    class PositionStreams implements RolloutEngine {
      readonly tokenizer = chars;
      readonly calls: { prompts: string[]; params: SamplingParams; keys: unknown }[] = [];
      async generate(prompts: number[][], params: SamplingParams, opts?: { sampleKeys?: string[] }) {
        this.calls.push({ prompts: prompts.map((p) => chars.decode(p)), params, keys: opts?.sampleKeys });
        return prompts.map((p, j): Completion => {
          const rng = new Rng((params.seed ?? 0) + j, `row/${j}`);
          const pick = rng.next();
          const a = 1 + Math.floor(rng.next() * 9);
          const b = 1 + Math.floor(rng.next() * 9);
          const call = pick < 0.6;
          const text = call
            ? `step ${p.length}\n\`\`\`python\nprint(${a} * ${b})\n\`\`\`\n${OUTPUT_STOP}`
            : pick < 0.8
              ? `\\boxed{${a}}`
              : 'x'.repeat(params.maxNewTokens);
          return {
            tokenIds: chars.encode(text),
            text,
            logProbs: chars.encode(text).map(() => -0.5),
            finishReason: call ? 'stop' : pick < 0.8 ? 'eos' : 'length',
            ...(call ? { stopString: OUTPUT_STOP } : {}),
          };
        });
      }
    }
    const prompts = Array.from({ length: 12 }, (_, i) => chars.encode(`problem ${i}: `));
    const sampling = { maxNewTokens: 60, temperature: 1, seed: 3 };
    const before = new PositionStreams();
    const after = new PositionStreams();
    const expected = await formerLoop(before, prompts, sampling, 2);
    const got = await rolloutWithEmulatedTool(after, prompts, sampling, 2);
    expect(got).to.deep.equal(expected);
    expect(after.calls.map((c) => c.prompts)).to.deep.equal(before.calls.map((c) => c.prompts));
    expect(after.calls.map((c) => c.params)).to.deep.equal(before.calls.map((c) => c.params));
    expect(after.calls.every((c) => c.keys === undefined)).to.equal(true);
    // the rollouts did go on after tool calls, up to the last turn
    expect(before.calls.map((c) => c.prompts.length)).to.have.length(3);
    expect(got.filter((t) => countToolCalls(t) === 2).length).to.be.greaterThan(0);
  });

  it('checks curriculum outputs against the exact evaluator', async () => {
    const outputs = [
      '<question>2 + 3</question>\n\\boxed{5}',
      '<question>2 + 3</question>\n\\boxed{6}',
      '<question>hello</question>',
      'junk',
    ];
    let n = 0;
    const engine: RolloutEngine = {
      tokenizer: chars,
      generate: async (prompts) =>
        prompts.map(() => {
          const text = outputs[n++] as string;
          return { tokenIds: chars.encode(text), text, logProbs: [], finishReason: 'eos' };
        }),
    };
    const { texts: _t, ...numbers } = await probeCurriculum(engine, 4);
    expect(numbers).to.deep.equal({
      n: 4,
      validRate: 0.5,
      selfCorrect: 0.25,
      distinct: 0.5,
      meanOps: 1,
      meanMaxDigits: 1,
      toolRate: 0,
    });
  });
});
