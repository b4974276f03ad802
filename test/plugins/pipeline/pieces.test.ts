import { expect } from 'chai';
import {
  Rng,
  type AgentLoop,
  type StageContext,
  type Task,
  type Tokenizer,
  type Trajectory,
} from '../../../core/index.js';
import { encodePrompt, fill, parseQuestion } from '../../../plugins/pipeline/text.js';
import { toSampling } from '../../../plugins/pipeline/schema.js';
import { chunks, rollout, rolloutChunked } from '../../../plugins/pipeline/rollouts.js';
import { rlUpdate, summarize } from '../../../plugins/pipeline/train.js';
import { informativeGroups, stepTasks, trueScore } from '../../../plugins/pipeline/stages/executor-train.js';
import { executorAgreement, mean } from '../../../plugins/pipeline/stages/curriculum-train.js';
import { curatedTasks, curationSummary, voteQuestion } from '../../../plugins/pipeline/stages/curate.js';
import type { GeneratedQuestion } from '../../../plugins/pipeline/stages/generate.js';
import { boxedVerifier, chars, ReplayEngine } from './helpers.js';

describe('pipeline: prompts and the curriculum format', () => {
  it('fills known placeholders and leaves unknown ones', () => {
    expect(fill('Problem: {problem} {x}', { problem: '1 + 1' })).to.equal('Problem: 1 + 1 {x}');
    expect(fill('{a}{a}-{b}', { a: 'z', b: '' })).to.equal('zz-');
  });

  it('encodes through the chat template only when asked and available', () => {
    const tok: Tokenizer = {
      ...chars,
      applyChatTemplate: (m, o) => `<u>${m[0]?.content}</u>${o?.addGenerationPrompt ? '<a>' : ''}`,
    };
    expect(chars.decode(encodePrompt(tok, 'hi', true))).to.equal('<u>hi</u><a>');
    expect(chars.decode(encodePrompt(tok, 'hi', false))).to.equal('hi');
    expect(chars.decode(encodePrompt(chars, 'hi', true))).to.equal('hi');
  });

  it('parses the first <question>, trimmed, with the text after it', () => {
    expect(parseQuestion('x <question> 2 + 3 </question> so \\boxed{5}')).to.deep.equal({
      question: '2 + 3',
      rest: ' so \\boxed{5}',
    });
    expect(parseQuestion('<question>a</question><question>b</question>')).to.deep.equal({
      question: 'a',
      rest: '<question>b</question>',
    });
    for (const bad of ['no tags', '<question>  </question>', '<question>open', '</question>x<question>'])
      expect(parseQuestion(bad), bad).to.equal(null);
    expect(parseQuestion('<question>abcd</question>', 3)).to.equal(null);
    expect(parseQuestion('<question>abcd</question>', 4)?.question).to.equal('abcd');
  });

  it('turns sampling options into engine parameters (topK 0: off)', () => {
    expect(toSampling({ temperature: 0.7, topP: 0.9, topK: 0, maxNewTokens: 5 }, 42, ['x'])).to.deep.equal({
      temperature: 0.7,
      topP: 0.9,
      topK: undefined,
      maxNewTokens: 5,
      seed: 42,
      stop: ['x'],
    });
    expect(toSampling({ temperature: 1, topP: 1, topK: 20, maxNewTokens: 9 }, 1).topK).to.equal(20);
  });
});

describe('pipeline: rollouts', () => {
  const req = (id: string, prompt: string, fields = {}) => ({
    id,
    groupId: `g-${prompt}`,
    promptIds: chars.encode(prompt),
    fields,
  });

  it('splits into chunks of at most size', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).to.deep.equal([[1, 2], [3, 4], [5]]);
    expect(chunks([], 3)).to.deep.equal([]);
  });

  it('without a loop: one generation per request in the trajectory shape, stop reasons mapped', async () => {
    for (const [finish, reason] of [
      ['length', 'length'],
      ['abort', 'abort'],
      ['stop', 'eos'],
      ['eos', 'eos'],
    ] as const) {
      const engine = new ReplayEngine(() => 'ab', chars, finish);
      const fields = { selfConsistency: 0.5 };
      const [t] = await rollout(engine, undefined, [req('r1', 'p', fields)], { maxNewTokens: 4 });
      expect(t).to.deep.include({
        id: 'r1',
        groupId: 'g-p',
        text: 'ab',
        stopReason: reason,
        turns: 1,
        toolCalls: 0,
        toolErrors: 0,
      });
      expect(t?.responseMask).to.deep.equal([1, 1]);
      expect(t?.fields).to.deep.equal(fields);
      expect(t?.fields, 'a copy').to.not.equal(fields);
      expect(engine.calls[0]?.sampleKeys).to.deep.equal(['r1']);
    }
    const idle = new ReplayEngine(() => 'x');
    expect(await rollout(idle, undefined, [], { maxNewTokens: 1 })).to.deep.equal([]);
    expect(idle.calls).to.have.length(0);
  });

  it('with a loop: the loop runs the requests', async () => {
    const seen: string[][] = [];
    const loop: AgentLoop = {
      run: async (_e, requests) => {
        seen.push(requests.map((r) => r.id));
        return [];
      },
    };
    await rollout(new ReplayEngine(() => 'x'), loop, [req('a', 'p'), req('b', 'p')], { maxNewTokens: 1 });
    expect(seen).to.deep.equal([['a', 'b']]);
  });

  it('seeds chunk j with seed + the requests before it, and reports each chunk', async () => {
    const engine = new ReplayEngine((p) => p.toUpperCase());
    const done: number[] = [];
    const out = await rolloutChunked(
      engine,
      undefined,
      ['a', 'b', 'c', 'd', 'e'].map((p) => req(p, p)),
      { maxNewTokens: 3, seed: 100 },
      2,
      (n) => done.push(n),
    );
    expect(engine.calls.map((c) => c.params.seed)).to.deep.equal([100, 102, 104]);
    expect(done).to.deep.equal([2, 2, 1]);
    expect(out.map((t) => t.text)).to.deep.equal(['A', 'B', 'C', 'D', 'E']);
    const unseeded = new ReplayEngine(() => 'x');
    await rolloutChunked(unseeded, undefined, [req('a', 'a'), req('b', 'b')], { maxNewTokens: 1 }, 1);
    expect(unseeded.calls.map((c) => c.params.seed)).to.deep.equal([undefined, undefined]);
  });

  it('stops before the next chunk once aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const engine = new ReplayEngine(() => 'x');
    let failed = false;
    await rolloutChunked(engine, undefined, [req('a', 'a')], { maxNewTokens: 1 }, 1, undefined, ac.signal).catch(() => {
      failed = true;
    });
    expect(failed).to.equal(true);
    expect(engine.calls).to.have.length(0);
  });
});

describe('pipeline: training pieces', () => {
  const traj = (groupId: string): Trajectory => ({
    id: groupId,
    groupId,
    promptIds: [],
    responseIds: [],
    responseMask: [],
    logProbs: [],
    text: '',
    stopReason: 'eos',
    turns: 1,
    toolCalls: 0,
    toolErrors: 0,
    fields: {},
    metrics: {},
  });

  it('averages each key of the first row over all rows (a missing value counts 0), prefixed', () => {
    expect(summarize([{ a: 1, b: 2 }, { a: 3 }], 'd.')).to.deep.equal({ 'd.a': 2, 'd.b': 1 });
    expect(summarize([], 'd.')).to.deep.equal({});
    expect(mean([1, 2, 6])).to.equal(3);
    expect(mean([])).to.equal(0);
  });

  it('skips the update, asking for no component, when every reward is null', async () => {
    const ctx = {
      get: async () => {
        throw new Error('asked for a component');
      },
    } as unknown as StageContext;
    expect(
      await rlUpdate(ctx, {} as never, undefined, [traj('a'), traj('b')], [null, null], {} as never),
    ).to.deep.equal({ trained: 0 });
  });

  it('marks the groups whose rewards differ (null rewards ignored)', () => {
    const trajs = ['g1', 'g1', 'g2', 'g2', 'g3', 'g3', 'g4', 'g4', 'g4'].map(traj);
    const rewards = [1, 0, 1, 1, null, 1, 0, null, 1];
    expect(informativeGroups(trajs, rewards)).to.deep.equal([true, true, false, false, false, false, true, true, true]);
  });

  it("draws each step's tasks from its epoch's shuffle, the same when a resumed run asks for one step", () => {
    const tasks = ['a', 'b', 'c', 'd', 'e'];
    const run = (steps: number[]) => {
      const rng = new Rng(3, 'executor-train');
      return steps.map((s) => stepTasks(tasks, 2, s, rng));
    };
    const all = run([0, 1, 2, 3]);
    // 2 steps per epoch (the fifth task waits for a later shuffle); steps of one epoch never repeat a task
    for (const b of all) expect(b).to.have.length(2);
    expect(new Set([...all[0]!, ...all[1]!]).size).to.equal(4);
    expect(new Set([...all[2]!, ...all[3]!]).size).to.equal(4);
    expect(run([3])[0]).to.deep.equal(all[3]);
    expect(run([1])[0]).to.deep.equal(all[1]);
    // fewer tasks than a batch: all of them every step
    expect([...stepTasks(['x', 'y', 'z'], 8, 5, new Rng(1, 's'))].sort()).to.deep.equal(['x', 'y', 'z']);
    // batch of one: an epoch is a permutation
    const one = [0, 1, 2].map((s) => stepTasks(['x', 'y', 'z'], 1, s, new Rng(1, 's'))[0]);
    expect([...one].sort()).to.deep.equal(['x', 'y', 'z']);
  });

  it('scores against the hidden true answer: 1, 0 (also without an answer), null without a truth', async () => {
    const v = boxedVerifier();
    const task = (trueAnswer?: string): Task => ({
      id: 't',
      problem: 'p',
      answer: '9',
      ...(trueAnswer === undefined ? {} : { trueAnswer }),
    });
    expect(await trueScore(v, task('4'), 'so \\boxed{4}')).to.equal(1);
    expect(await trueScore(v, task('4'), 'so \\boxed{9}')).to.equal(0);
    expect(await trueScore(v, task('4'), 'no answer')).to.equal(0);
    expect(await trueScore(v, task(), '\\boxed{9}')).to.equal(null);
  });

  it("measures the executor's agreement as majority share times answered share", async () => {
    const v = boxedVerifier();
    expect(await executorAgreement(v, ['2', '2', '3', null])).to.be.closeTo((2 / 3) * (3 / 4), 1e-15);
    expect(await executorAgreement(v, ['1', '1'])).to.equal(1);
    expect(await executorAgreement(v, [null, null])).to.equal(0);
    expect(await executorAgreement(v, [])).to.equal(0);
  });
});

describe('pipeline: curation', () => {
  const q = (id: string, extra: Partial<GeneratedQuestion> = {}): GeneratedQuestion => ({
    id,
    question: `q-${id}`,
    ownAnswer: null,
    curriculumToolCalls: 0,
    ...extra,
  });
  const o = { k: 4, low: 0.3, high: 0.8, requireAgreement: false };

  it('keeps a question whose p̂ (majority count over k) lies in [low, high]', async () => {
    const v = boxedVerifier();
    const rows = [
      await voteQuestion(v, q('a', { trueAnswer: '2', difficulty: { d: 1 } }), ['2', '2', '2', '3'], o),
      await voteQuestion(v, q('b', { trueAnswer: '4' }), ['5', '5', '5', '5'], o),
      await voteQuestion(v, q('c'), ['1', null, '2', null], o),
      await voteQuestion(v, q('d'), [null, null, null, null], o),
      await voteQuestion(v, q('e'), ['7', '7', '8', '8'], { ...o, high: 0.5 }),
    ];
    expect(rows[0]).to.deep.equal({
      id: 'a',
      question: 'q-a',
      answers: ['2', '2', '2', '3'],
      majority: '2',
      selfConsistency: 0.75,
      kept: true,
      difficulty: { d: 1 },
      trueAnswer: '2',
      pseudoLabelCorrect: true,
    });
    expect(rows[1]).to.deep.include({
      majority: '5',
      selfConsistency: 1,
      kept: false,
      trueAnswer: '4',
      pseudoLabelCorrect: false,
    });
    // a tie goes to the answer seen first; unanswered attempts count against p̂
    expect(rows[2]).to.deep.include({ majority: '1', selfConsistency: 0.25, kept: false });
    expect(rows[2]).to.not.have.property('pseudoLabelCorrect');
    expect(rows[3]).to.deep.include({ majority: null, selfConsistency: 0, kept: false });
    expect(rows[4]).to.deep.include({ majority: '7', selfConsistency: 0.5, kept: true });
    const tasks = curatedTasks(rows);
    expect(tasks).to.deep.equal([
      {
        id: 'a',
        problem: 'q-a',
        answer: '2',
        trueAnswer: '2',
        fields: { selfConsistency: 0.75 },
        meta: { difficulty: { d: 1 } },
      },
      {
        id: 'e',
        problem: 'q-e',
        answer: '7',
        trueAnswer: undefined,
        fields: { selfConsistency: 0.5 },
        meta: { difficulty: undefined },
      },
    ]);
    expect(curationSummary(rows, tasks)).to.deep.equal({
      questions: 5,
      kept: 2,
      keptRate: 0.4,
      meanSelfConsistency: (0.75 + 1 + 0.25 + 0 + 0.5) / 5,
      keptSelfConsistency: 0.625,
      pseudoLabelAccuracy: 1,
    });
  });

  it("with requireAgreement keeps only a majority equal to the curriculum's own answer", async () => {
    const v = boxedVerifier();
    const strict = { ...o, requireAgreement: true };
    expect((await voteQuestion(v, q('a', { ownAnswer: '2' }), ['2', '2', '2', '3'], strict)).kept).to.equal(true);
    expect((await voteQuestion(v, q('a', { ownAnswer: '3' }), ['2', '2', '2', '3'], strict)).kept).to.equal(false);
    expect((await voteQuestion(v, q('a', { ownAnswer: null }), ['2', '2', '2', '3'], strict)).kept).to.equal(false);
  });

  it('reports no pseudo-label accuracy without kept rows of known truth, and zeros for no rows', () => {
    expect(curationSummary([], [])).to.deep.equal({
      questions: 0,
      kept: 0,
      keptRate: 0,
      meanSelfConsistency: 0,
      keptSelfConsistency: 0,
    });
  });
});
