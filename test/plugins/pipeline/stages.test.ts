import { promises as fs } from 'node:fs';
import { expect } from 'chai';
import {
  Rng,
  type ComponentDefinition,
  type RewardFunction,
  type RewardSample,
  type Task,
  type TaskSource,
} from '../../../core/index.js';
import { advantageComponents } from '../../../plugins/algorithms/components/advantage.js';
import { policyLossComponents } from '../../../plugins/algorithms/components/policy-loss.js';
import { lossAggComponents } from '../../../plugins/algorithms/components/kl-agg.js';
import { EVAL_SUMMARY, QUESTIONS, TASKS, ANSWERS, evalItems } from '../../../plugins/pipeline/artifacts.js';
import { evaluateTasks } from '../../../plugins/pipeline/evaluation.js';
import { generateStage } from '../../../plugins/pipeline/stages/generate.js';
import { curateStage } from '../../../plugins/pipeline/stages/curate.js';
import { evaluateStage } from '../../../plugins/pipeline/stages/evaluate.js';
import { executorTrain } from '../../../plugins/pipeline/stages/executor-train.js';
import { curriculumTrain, executorAgreement } from '../../../plugins/pipeline/stages/curriculum-train.js';
import { boxedVerifier, CharBigram, ReplayEngine, runStage, scripted, testStage, withDefaults } from './helpers.js';

const seedOf = (stage: string, fork?: string) =>
  (fork === undefined ? new Rng(1, stage) : new Rng(1, stage).fork(fork)).seedInt();

type TestRunDir = Awaited<ReturnType<typeof testStage>>['runDir'];

/**
 * Runs a training stage whole, then again killed during step 2 (after that step's checkpoint), then
 * resumed in the killed run's folder; checks the kill left state at step 2 and the resume ran only it.
 */
async function killAndResume<S extends { t: Awaited<ReturnType<typeof testStage>> }>(
  stage: ComponentDefinition,
  options: Record<string, unknown>,
  setup: (policy: CharBigram, runDir?: TestRunDir) => Promise<S>,
): Promise<{ whole: CharBigram; resumed: CharBigram; first: S; again: S }> {
  const whole = new CharBigram();
  await runStage(stage, options, (await setup(whole)).t);
  const killed = new CharBigram();
  killed.failAt = 3; // during step 2, after the checkpoint of step 2
  const first = await setup(killed);
  let died = false;
  await runStage(stage, options, first.t).catch(() => {
    died = true;
  });
  expect(died).to.equal(true);
  expect(await first.t.ctx.loadState()).to.deep.equal({ step: 2 });
  const resumed = new CharBigram();
  const again = await setup(resumed, first.t.runDir);
  await runStage(stage, options, again.t);
  expect(again.t.metrics.map((m) => m.step)).to.deep.equal([2]);
  return { whole, resumed, first, again };
}

/** A task source of fixed tasks per split, with the world's optional reporting hooks. */
function source(splits: Record<string, Task[]>): TaskSource {
  return {
    splits: () => Object.keys(splits),
    load: async (split, o = {}) => (splits[split] ?? []).slice(0, o.limit),
    difficulty: (q) => ({ len: q.length }),
    solve: (q) => (({ '1 + 1': '2', '2 * 3': '6' }) as Record<string, string>)[q],
  };
}

describe('stage/generate', () => {
  const replies = [
    '<question>1 + 1</question> \\boxed{2}',
    'garbage',
    '<question>1  +\n1</question>',
    '<question>2 * 3</question>\\boxed{7}',
    '<question>7 - 1</question>',
    '<question>8</question>',
  ];

  it('keeps parsed, whitespace-deduplicated questions up to count, with own and true answers', async () => {
    const engine = new ReplayEngine((_p, n) => replies[n] as string);
    const t = await testStage('generate', { curriculum: engine, verifier: boxedVerifier(), world: source({}) });
    const res = await runStage(generateStage, { world: 'world', count: 2, maxAttempts: 10, rolloutBatch: 3 }, t);
    expect(await t.ctx.artifacts.readJsonl(QUESTIONS)).to.deep.equal([
      {
        id: 'iter1-q0',
        question: '1 + 1',
        ownAnswer: '2',
        curriculumToolCalls: 0,
        difficulty: { len: 5 },
        trueAnswer: '2',
      },
      {
        id: 'iter1-q1',
        question: '2 * 3',
        ownAnswer: '7',
        curriculumToolCalls: 0,
        difficulty: { len: 5 },
        trueAnswer: '6',
      },
    ]);
    // attempts 0-5 in two batches of 3; parsed: 0, 2 (a repeat), 3, 4 (found once the count was full)
    const summary = { questions: 2, attempts: 6, parseRate: 4 / 6, uniqueRate: 2 / 4 };
    expect(res).to.deep.equal({ summary });
    expect(t.metrics).to.deep.equal([{ stage: 'generate', iteration: 1, ...summary }]);
    expect(engine.calls.map((c) => c.params.seed)).to.deep.equal([
      seedOf('generate', 'batch-0'),
      seedOf('generate', 'batch-3'),
    ]);
    expect(engine.calls.map((c) => c.sampleKeys)).to.deep.equal([
      ['g1-0', 'g1-1', 'g1-2'],
      ['g1-3', 'g1-4', 'g1-5'],
    ]);
    expect(engine.calls[0]?.prompts[0]).to.equal('Propose a new problem.\n');
    // a finished stage run again (a resume) returns its questions without generating
    const again = await runStage(generateStage, { world: 'world', count: 2, maxAttempts: 10, rolloutBatch: 3 }, t);
    expect(again).to.deep.equal({ summary: { questions: 2 } });
    expect(engine.calls).to.have.length(2);
  });

  it('stops at maxAttempts; without dedupe a repeat is kept', async () => {
    const engine = new ReplayEngine((_p, n) => replies[n] as string);
    const t = await testStage('generate', { curriculum: engine, verifier: boxedVerifier() });
    const res = await runStage(generateStage, { count: 10, maxAttempts: 4, rolloutBatch: 3, dedupe: false }, t);
    const qs = await t.ctx.artifacts.readJsonl<{ question: string; ownAnswer: string | null; trueAnswer?: string }>(
      QUESTIONS,
    );
    expect(qs.map((q) => q.question)).to.deep.equal(['1 + 1', '1  +\n1', '2 * 3']);
    expect(qs[1]?.ownAnswer).to.equal(null);
    expect(qs[0]).to.not.have.property('trueAnswer');
    expect(res).to.deep.equal({ summary: { questions: 3, attempts: 4, parseRate: 3 / 4, uniqueRate: 1 } });
    expect(engine.calls.map((c) => c.prompts.length)).to.deep.equal([3, 1]);
  });
});

describe('stage/curate', () => {
  const questions = [
    { id: 'iter1-q0', question: 'a', ownAnswer: '2', curriculumToolCalls: 0, difficulty: { d: 1 }, trueAnswer: '2' },
    { id: 'iter1-q1', question: 'b', ownAnswer: null, curriculumToolCalls: 0, trueAnswer: '4' },
    { id: 'iter1-q2', question: 'c', ownAnswer: null, curriculumToolCalls: 0 },
  ];
  const answers = scripted({
    'Problem: a\nSolution:\n': ['\\boxed{2}', '\\boxed{2}', '\\boxed{2}', '\\boxed{3}'],
    'Problem: b\nSolution:\n': ['\\boxed{5}'],
    'Problem: c\nSolution:\n': ['\\boxed{1}', 'x', '\\boxed{2}', 'y'],
  });

  it('votes k answers per question and writes every row and the kept tasks', async () => {
    const engine = new ReplayEngine(answers);
    const t = await testStage('curate', { executor: engine, verifier: boxedVerifier() });
    await t.runDir.artifacts('gen', 1).writeJsonl(QUESTIONS, questions);
    const res = await runStage(curateStage, { from: 'gen', k: 4 }, t);
    const rows = await t.ctx.artifacts.readJsonl(ANSWERS);
    expect(rows).to.deep.equal([
      {
        id: 'iter1-q0',
        question: 'a',
        answers: ['2', '2', '2', '3'],
        majority: '2',
        selfConsistency: 0.75,
        kept: true,
        difficulty: { d: 1 },
        trueAnswer: '2',
        pseudoLabelCorrect: true,
      },
      {
        id: 'iter1-q1',
        question: 'b',
        answers: ['5', '5', '5', '5'],
        majority: '5',
        selfConsistency: 1,
        kept: false,
        trueAnswer: '4',
        pseudoLabelCorrect: false,
      },
      {
        id: 'iter1-q2',
        question: 'c',
        answers: ['1', null, '2', null],
        majority: '1',
        selfConsistency: 0.25,
        kept: false,
      },
    ]);
    expect(await t.ctx.artifacts.readJsonl(TASKS)).to.deep.equal([
      {
        id: 'iter1-q0',
        problem: 'a',
        answer: '2',
        trueAnswer: '2',
        fields: { selfConsistency: 0.75 },
        meta: { difficulty: { d: 1 } },
      },
    ]);
    const summary = {
      questions: 3,
      kept: 1,
      keptRate: 1 / 3,
      meanSelfConsistency: 2 / 3,
      keptSelfConsistency: 0.75,
      pseudoLabelAccuracy: 1,
    };
    expect(res).to.deep.equal({ summary });
    expect(t.metrics).to.deep.equal([{ stage: 'curate', iteration: 1, ...summary }]);
    expect(engine.calls).to.have.length(1);
    expect(engine.calls[0]?.params.seed).to.equal(seedOf('curate'));
    expect(engine.calls[0]?.sampleKeys?.slice(0, 5)).to.deep.equal([
      'iter1-q0-a0',
      'iter1-q0-a1',
      'iter1-q0-a2',
      'iter1-q0-a3',
      'iter1-q1-a0',
    ]);
  });

  it('writes empty files for no questions', async () => {
    const t = await testStage('curate', { executor: new ReplayEngine(answers), verifier: boxedVerifier() });
    const res = await runStage(curateStage, {}, t);
    expect(await fs.readFile(t.ctx.artifacts.path(TASKS), 'utf8')).to.equal('');
    expect(res).to.deep.equal({
      summary: { questions: 0, kept: 0, keptRate: 0, meanSelfConsistency: 0, keptSelfConsistency: 0 },
    });
  });
});

describe('evaluation', () => {
  const tasks: Task[] = [
    { id: 't1', problem: '1+1', answer: '2' },
    { id: 't2', problem: '2+2', answer: '5', trueAnswer: '4' },
    { id: 't3', problem: '3+3' },
    { id: 't4', problem: '9', answer: '9' },
  ];
  const replies = scripted({
    'Q 1+1': ['\\boxed{2}', '\\boxed{2}', '\\boxed{3}', '\\boxed{2}'],
    'Q 2+2': ['\\boxed{5}', '\\boxed{4}', '', '\\boxed{5}'],
    'Q 9': ['none', 'x', 'y', 'z'],
  });
  const o = {
    executorPrompt: 'Q {problem}',
    chat: false,
    maxNewTokens: 7,
    k: 0,
    sampling: { temperature: 0.6, topP: 1, topK: 0, maxNewTokens: 5 },
    rolloutBatch: 64,
    stop: ['END'],
    seed: 10,
  };

  it('scores greedy pass@1 against the true answer, skipping unlabelled tasks', async () => {
    const engine = new ReplayEngine(replies);
    const { items, summary } = await evaluateTasks(
      engine,
      undefined,
      boxedVerifier(),
      tasks,
      o,
      undefined,
      undefined,
      false,
    );
    expect(items.map((x) => [x.id, x.answer, x.prediction, x.correct, x.responseTokens])).to.deep.equal([
      ['t1', '2', '2', true, 9],
      ['t2', '4', '5', false, 9],
      ['t4', '9', null, false, 4],
    ]);
    expect(items[0]).to.not.have.property('response');
    expect(summary).to.deep.equal({
      items: 3,
      accuracy: 1 / 3,
      toolCallsPerSolution: 0,
      toolUseRate: 0,
      responseTokens: 22 / 3,
    });
    expect(engine.calls).to.have.length(1);
    expect(engine.calls[0]?.params).to.deep.include({ temperature: 0, maxNewTokens: 7, seed: 10, stop: ['END'] });
  });

  it('adds mean@k and maj@k over k sampled answers (a tie goes to the answer seen first)', async () => {
    const engine = new ReplayEngine(replies);
    const { items, summary } = await evaluateTasks(engine, undefined, boxedVerifier(), tasks, { ...o, k: 3 });
    expect(items.map((x) => x.sampled)).to.deep.equal([
      { correct: [true, false, true], majorityCorrect: true },
      { correct: [true, false, false], majorityCorrect: true },
      { correct: [false, false, false], majorityCorrect: false },
    ]);
    expect(items[0]?.response).to.equal('\\boxed{2}');
    expect(summary.k).to.equal(3);
    expect(summary.meanAtK).to.be.closeTo((2 / 3 + 1 / 3 + 0) / 3, 1e-15);
    expect(summary.majAtK).to.equal(2 / 3);
    expect(engine.calls[1]?.params).to.deep.include({ temperature: 0.6, maxNewTokens: 5, seed: 11, stop: ['END'] });
  });

  it('stage/evaluate writes one file per split and a summary, with a seed per split', async () => {
    const engine = new ReplayEngine(replies);
    const t = await testStage('evaluate', {
      executor: engine,
      verifier: boxedVerifier(),
      bench: source({ s1: tasks.slice(0, 2), s2: tasks.slice(3) }),
    });
    const res = await runStage(
      evaluateStage,
      { executorLoop: null, source: 'bench', splits: ['s1', 's2'], executorPrompt: 'Q {problem}' },
      t,
    );
    expect(res?.summary).to.deep.include({ 's1.items': 2, 's1.accuracy': 0.5, 's2.items': 1, 's2.accuracy': 0 });
    const s1 = await t.ctx.artifacts.readJsonl<{ split: string; id: string }>(evalItems('s1'));
    expect(s1.map((x) => [x.split, x.id])).to.deep.equal([
      ['s1', 't1'],
      ['s1', 't2'],
    ]);
    const summary = await t.ctx.artifacts.readJson<Record<string, { accuracy: number }>>(EVAL_SUMMARY);
    expect(Object.keys(summary ?? {})).to.deep.equal(['s1', 's2']);
    expect(engine.calls.map((c) => c.params.seed)).to.deep.equal([seedOf('evaluate', 's1'), seedOf('evaluate', 's2')]);
    expect(t.metrics.map((m) => [m.stage, m.split, m.accuracy])).to.deep.equal([
      ['evaluate', 's1', 0.5],
      ['evaluate', 's2', 0],
    ]);
  });
});

/** The RL pieces as configs/algorithms/agent0.yaml names them (GRPO, PPO clip, token mean). */
async function algorithms(): Promise<Record<string, unknown>> {
  const make = async (defs: ComponentDefinition[], name: string) => {
    const def = defs.find((d) => d.name === name) as ComponentDefinition;
    return def.create(withDefaults(def, {}), {} as never);
  };
  return {
    advantage: await make(advantageComponents, 'grpo'),
    policy_loss: await make(policyLossComponents, 'vanilla'),
    loss_agg: await make(lossAggComponents, 'token-mean'),
  };
}

/** 1 when the boxed answer equals the task's (pseudo-)label; records what it was shown. */
function labelReward(seen: RewardSample[][]): RewardFunction {
  const v = boxedVerifier();
  return {
    score: async (batch) => {
      seen.push(batch);
      return batch.map((s) => ({ reward: v.extract(s.response) === s.task.answer ? 1 : 0 }));
    },
  };
}

describe('stage/executor-train', () => {
  const tasks: Task[] = [
    { id: 't0', problem: '1+1', answer: '2', trueAnswer: '2', fields: { selfConsistency: 0.5 } },
    { id: 't1', problem: '2+2', answer: '4', fields: { selfConsistency: 0.75 } },
  ];
  // t0's group alternates right and wrong (informative), t1's is always right (no GRPO signal)
  const reply = (prompt: string, n: number) =>
    prompt === 'Q1+1' ? (n % 2 === 0 ? '\\boxed{2}' : '\\boxed{3}') : '\\boxed{4}';
  const options = {
    executorEngine: 'engine',
    executorLoop: null,
    kl: null,
    executorPrompt: 'Q{problem}',
    steps: 3,
    batchSize: 2,
    n: 2,
    checkpointEvery: 2,
  };

  async function setup(policy: CharBigram, runDir?: TestRunDir) {
    const seen: RewardSample[][] = [];
    const engine = new ReplayEngine(reply, policy.tokenizer);
    const t = await testStage(
      'executor-train',
      {
        executor: policy,
        engine,
        executor_reward: labelReward(seen),
        verifier: boxedVerifier(),
        ...(await algorithms()),
      },
      { runDir },
    );
    if (!runDir) await t.runDir.artifacts('curate', 1).writeJsonl(TASKS, tasks);
    return { t, engine, seen };
  }

  it('trains on groups of n rollouts per task, logs each step, keeps the last step checkpoint and commits the policy', async () => {
    const policy = new CharBigram();
    const { t, engine, seen } = await setup(policy);
    const res = await runStage(executorTrain, options, t);
    expect(t.metrics.map((m) => m.step)).to.deep.equal([0, 1, 2]);
    for (const m of t.metrics) {
      expect(m).to.deep.include({
        stage: 'executor-train',
        iteration: 1,
        reward: 0.75,
        informativeGroups: 0.5,
        toolCalls: 0,
        responseTokens: 9,
        trueAccuracy: 0.5,
        trained: 4,
      });
    }
    expect(res?.summary).to.deep.include({ steps: 3, tasks: 2, reward: 0.75 });
    // each step: both tasks, n = 2 each, with the task's self-consistency as a field; one seed per step
    for (const c of engine.calls) expect([...c.prompts].sort()).to.deep.equal(['Q1+1', 'Q1+1', 'Q2+2', 'Q2+2']);
    expect(engine.calls.map((c) => c.params.seed)).to.deep.equal(
      [0, 1, 2].map((s) => seedOf('executor-train', `step-${s}`)),
    );
    expect(seen[0]?.map((s) => [s.task.id, s.fields?.selfConsistency]).sort()).to.deep.equal([
      ['t0', 0.5],
      ['t0', 0.5],
      ['t1', 0.75],
      ['t1', 0.75],
    ]);
    expect(
      policy
        .weights()
        .flat()
        .some((x) => x !== 0),
      'the policy was trained',
    ).to.equal(true);
    expect((await fs.readdir(t.ctx.dir)).sort()).to.deep.equal(['checkpoint-3', 'stage-state.json']);
    expect(await t.ctx.loadState()).to.deep.equal({ step: 3 });
    expect(t.committed.executor).to.equal(t.runDir.path('checkpoints', 'iter-1-executor-train', 'executor'));
    // the engine cannot follow the trained weights: said at each of the two step checkpoints
    expect(t.warnings).to.have.length(2);
  });

  it('with dynamic sampling drops the groups whose rewards are all equal', async () => {
    const { t } = await setup(new CharBigram());
    await runStage(executorTrain, { ...options, steps: 1, dynamicSampling: true }, t);
    expect(t.metrics[0]).to.deep.include({ reward: 0.5, informativeGroups: 0.5, trained: 2 });
  });

  it('a run killed mid-step resumes from its last step checkpoint to the same weights', async () => {
    const { whole, resumed, first } = await killAndResume(executorTrain, options, setup);
    expect(resumed.weights()).to.deep.equal(whole.weights());
    // a finished stage resumed again only reloads and re-commits
    const done = new CharBigram();
    const last = await setup(done, first.t.runDir);
    await runStage(executorTrain, options, last.t);
    expect(last.engine.calls).to.have.length(0);
    expect(done.weights()).to.deep.equal(whole.weights());
  });

  it('without curated tasks only commits the policy as it is', async () => {
    const policy = new CharBigram();
    const t = await testStage('executor-train', { executor: policy });
    expect(await runStage(executorTrain, options, t)).to.deep.equal({ summary: { steps: 0, tasks: 0 } });
    expect(t.warnings).to.deep.equal(['no curated tasks in curate: the executor is not trained this iteration']);
    expect(Object.keys(t.committed)).to.deep.equal(['executor']);
  });
});

describe('stage/curriculum-train', () => {
  it('probes each parsed proposal with k executor answers and rewards the curriculum on that evidence', async () => {
    const curriculum = new CharBigram();
    const executor = new CharBigram();
    const proposals = [
      '<question>1+1</question>\\boxed{2}',
      'junk',
      '<question>2+2</question>\\boxed{4}',
      '<question>2+2</question>',
    ];
    const cengine = new ReplayEngine((_p, n) => proposals[n] as string, curriculum.tokenizer);
    const xengine = new ReplayEngine(
      scripted({ 'Q1+1': ['\\boxed{2}', '\\boxed{2}', '\\boxed{3}'], 'Q2+2': ['\\boxed{4}'] }),
      executor.tokenizer,
    );
    const seen: RewardSample[][] = [];
    const reward: RewardFunction = {
      score: async (b) => {
        seen.push(b);
        return b.map((s) => ({ reward: (s.extra as { question: string | null }).question === null ? 0 : 1 }));
      },
    };
    const t = await testStage('curriculum-train', {
      curriculum,
      executor,
      cengine,
      xengine,
      curriculum_reward: reward,
      verifier: boxedVerifier(),
      world: source({}),
      ...(await algorithms()),
    });
    const res = await runStage(
      curriculumTrain,
      {
        curriculumEngine: 'cengine',
        executorEngine: 'xengine',
        executorLoop: null,
        kl: null,
        world: 'world',
        loss: 'policy_loss',
        prompt: 'P',
        executorPrompt: 'Q{problem}',
        steps: 2,
        batchSize: 1,
        n: 2,
        k: 3,
        checkpointEvery: 1,
      },
      t,
    );
    expect(seen[0]?.map((s) => s.extra)).to.deep.equal([
      {
        question: '1+1',
        ownAnswer: '2',
        executorAnswers: ['2', '2', '3'],
        executorToolCalls: [0, 0, 0],
        curriculumToolCalls: 0,
      },
      { question: null, ownAnswer: null, executorAnswers: [], executorToolCalls: [], curriculumToolCalls: 0 },
    ]);
    expect(seen[1]?.map((s) => (s.extra as { ownAnswer: string | null }).ownAnswer)).to.deep.equal(['4', null]);
    expect(t.metrics[0]).to.deep.include({
      stage: 'curriculum-train',
      step: 0,
      reward: 0.5,
      parseRate: 0.5,
      curriculumToolCalls: 0,
      executorToolCalls: 0,
      'difficulty.len': 3,
      trained: 2,
    });
    expect(t.metrics[0]?.selfConsistency).to.be.closeTo(2 / 3, 1e-15);
    expect(t.metrics[1]).to.deep.include({ step: 1, reward: 1, parseRate: 1, selfConsistency: 1 });
    // proposals and probes of a step draw from its seed (probes: seed + 1)
    const s0 = seedOf('curriculum-train', 'step-0');
    expect(cengine.calls[0]?.params.seed).to.equal(s0);
    expect(xengine.calls[0]?.params.seed).to.equal(s0 + 1);
    expect(xengine.calls[0]?.sampleKeys).to.deep.equal(['c1-0-0-0-x0', 'c1-0-0-0-x1', 'c1-0-0-0-x2']);
    expect(res?.summary).to.deep.include({ steps: 2, reward: 1 });
    expect((await fs.readdir(t.ctx.dir)).sort()).to.deep.equal(['checkpoint-2', 'stage-state.json']);
    expect(Object.keys(t.committed)).to.deep.equal(['curriculum']);
  });
  it("the executor's agreement is the majority's share of the answers times the share that answered", async () => {
    const v = boxedVerifier();
    // 4 attempts, 3 answered, majority '2' holds 2 of those 3: 2/3 · 3/4
    expect(await executorAgreement(v, ['2', null, '2', '3'])).to.equal(0.5);
    expect(await executorAgreement(v, ['7', '7', '7', '7'])).to.equal(1);
    expect(await executorAgreement(v, [null, null])).to.equal(0);
    expect(await executorAgreement(v, [])).to.equal(0);
    // a tie goes to the answer seen first; its share is still 1/2
    expect(await executorAgreement(v, ['1', '2'])).to.equal(0.5);
  });

  it('a run killed mid-step resumes from its last step checkpoint to the same curriculum weights', async () => {
    const options = {
      curriculumEngine: 'cengine',
      executorEngine: 'xengine',
      executorLoop: null,
      kl: null,
      loss: 'policy_loss',
      prompt: 'P',
      executorPrompt: 'Q{problem}',
      steps: 3,
      batchSize: 1,
      n: 2,
      k: 2,
      checkpointEvery: 1,
    };
    const proposals = ['<question>1+1</question>\\boxed{2}', '<question>2+2</question>'];
    async function setup(curriculum: CharBigram, runDir?: TestRunDir) {
      const executor = new CharBigram();
      const cengine = new ReplayEngine((_p, n) => proposals[n % 2] as string, curriculum.tokenizer);
      const xengine = new ReplayEngine((_p, n) => (n % 2 === 0 ? '\\boxed{2}' : '\\boxed{5}'), executor.tokenizer);
      const reward: RewardFunction = {
        score: async (b) => b.map((x) => ({ reward: (x.extra as { ownAnswer: string | null }).ownAnswer ? 1 : 0 })),
      };
      const t = await testStage(
        'curriculum-train',
        {
          curriculum,
          executor,
          cengine,
          xengine,
          curriculum_reward: reward,
          verifier: boxedVerifier(),
          ...(await algorithms()),
        },
        { runDir },
      );
      return { t, cengine };
    }
    const { whole, resumed, again } = await killAndResume(curriculumTrain, options, setup);
    expect(
      whole
        .weights()
        .flat()
        .some((x) => x !== 0),
      'the curriculum was trained',
    ).to.equal(true);
    // the resumed step proposes from the same seed as the uninterrupted run's step 2
    expect(again.cengine.calls[0]?.params.seed).to.equal(seedOf('curriculum-train', 'step-2'));
    expect(resumed.weights()).to.deep.equal(whole.weights());
  });
});
