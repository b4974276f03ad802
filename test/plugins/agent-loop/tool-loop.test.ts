// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import type { AgentRequest, ParsedAction, Tool, ToolResult, Trajectory } from '../../../core/index.js';
import { ToolLoop, type ToolLoopOptions } from '../../../plugins/shared/tool-loop.js';
import { truncateIds } from '../../../plugins/shared/truncate.js';
import { charTokenizer, MODEL_LOGP, PY, ScriptedEngine } from './scripted.js';

const OPTS: ToolLoopOptions = {
  stop: ['```output'],
  observationFormat: '\n{output}\n```\n',
  maxTurns: 4,
  maxActionLength: null,
  maxResponseLength: null,
  maxObsLength: null,
  obsTruncate: 'middle',
  concurrency: 8,
  toolTimeoutSeconds: 30,
  onInvalidAction: 'stop',
  invalidActionMessage: 'no code found',
  batchWaitMs: 0,
};

/** A tool whose answer is scripted per action; records calls and finishes. */
class FakeTool implements Tool {
  readonly name = 'fake';
  readonly calls: { id: string; action: string; start: number; end?: number }[] = [];
  readonly finished: string[] = [];
  constructor(private readonly answer: (action: string, id: string) => Promise<ToolResult> | ToolResult) {}
  parseAction(text: string): ParsedAction {
    const m = /```python\n([\s\S]*?)\n```\n```output$/.exec(text);
    return m ? { valid: true, action: m[1] } : { valid: false };
  }
  async conductAction(id: string, action: string): Promise<ToolResult> {
    const c: { id: string; action: string; start: number; end?: number } = { id, action, start: performance.now() };
    this.calls.push(c);
    try {
      return await this.answer(action, id);
    } finally {
      c.end = performance.now();
    }
  }
  async finish(id: string): Promise<void> {
    this.finished.push(id);
  }
}

const ok = (observation: string): ToolResult => ({ observation, done: false, valid: true, info: { status: 'ok' } });
const req = (id: string, prompt: string): AgentRequest => ({
  id,
  groupId: 'g',
  promptIds: charTokenizer.encode(prompt),
  fields: { selfConsistency: 0.5 },
});

/** The observation spans of a trajectory, from its mask, as text. */
function maskedSpans(t: Trajectory): string[] {
  const spans: string[] = [];
  let cur: number[] = [];
  t.responseMask.forEach((m, i) => {
    if (m === 0) cur.push(t.responseIds[i] as number);
    else if (cur.length) {
      spans.push(charTokenizer.decode(cur));
      cur = [];
    }
  });
  if (cur.length) spans.push(charTokenizer.decode(cur));
  return spans;
}

function checkInvariants(t: Trajectory): void {
  expect(t.responseMask.length).to.equal(t.responseIds.length);
  expect(t.logProbs.length).to.equal(t.responseIds.length);
  expect(charTokenizer.decode(t.responseIds)).to.equal(t.text);
  t.responseMask.forEach((m, i) => expect(t.logProbs[i]).to.equal(m === 1 ? MODEL_LOGP : 0));
}

describe('agent-loop/tool-loop (scripted engine, fake tool)', () => {
  it('runs a tool turn: the observation follows the stop string, is masked, and has log-prob 0', async () => {
    const engine = new ScriptedEngine({
      'Problem: 12 * 34 + 5': [PY('print(12 * 34 + 5)'), 'The answer is \\boxed{413}.'],
      'Problem: 2 + 2': ['I will compute it directly.\nThe answer is \\boxed{4}.'],
    });
    const tool = new FakeTool((a) => ok(a === 'print(12 * 34 + 5)' ? '413' : '?'));
    const loop = new ToolLoop([tool], OPTS);
    const [a, b] = await loop.run(
      engine,
      [req('a', 'Problem: 12 * 34 + 5\nSolution:\n'), req('b', 'Problem: 2 + 2\nSolution:\n')],
      { maxNewTokens: 400, temperature: 0, seed: 7 },
    );
    expect(a!.text).to.equal(
      'I will use python.\n```python\nprint(12 * 34 + 5)\n```\n```output\n413\n```\nThe answer is \\boxed{413}.',
    );
    expect(maskedSpans(a!)).to.deep.equal(['\n413\n```\n']);
    expect(a).to.include({ stopReason: 'eos', turns: 2, toolCalls: 1, toolErrors: 0, id: 'a', groupId: 'g' });
    expect(a!.fields).to.deep.equal({ selfConsistency: 0.5 });
    expect(a!.metrics.obsTokens).to.equal('\n413\n```\n'.length);
    expect(b).to.include({
      stopReason: 'eos',
      turns: 1,
      toolCalls: 0,
      text: 'I will compute it directly.\nThe answer is \\boxed{4}.',
    });
    for (const t of [a!, b!]) checkInvariants(t);
    // One engine call per round with every ready trajectory; the second prompt is prompt + response so far.
    expect(engine.calls.map((c) => c.prompts.length)).to.deep.equal([2, 1]);
    expect(engine.calls[1]!.prompts[0]).to.equal(
      `Problem: 12 * 34 + 5\nSolution:\n${a!.text.slice(0, a!.text.indexOf('The answer'))}`,
    );
    expect(engine.calls[0]!.affinityKeys).to.deep.equal(['a', 'b']);
    // every round keeps the run's seed; rows are told apart by trajectory and turn, not by round
    expect(engine.calls.map((c) => c.params.seed)).to.deep.equal([7, 7]);
    expect(engine.calls.map((c) => c.sampleKeys)).to.deep.equal([['a#0', 'b#0'], ['a#1']]);
    expect(engine.calls[0]!.params.stop).to.deep.equal(['```output']);
    expect(tool.finished.sort()).to.deep.equal(['a', 'b']);
  });

  it("streams: 'position' leaves the rows unkeyed (each draws its position's stream); the text is the same", async () => {
    const scripts = {
      'Problem: 12 * 34 + 5': [PY('print(12 * 34 + 5)'), 'The answer is \\boxed{413}.'],
      'Problem: 2 + 2': ['I will compute it directly.\nThe answer is \\boxed{4}.'],
    };
    const reqs = [req('a', 'Problem: 12 * 34 + 5\nSolution:\n'), req('b', 'Problem: 2 + 2\nSolution:\n')];
    const texts: string[][] = [];
    for (const streams of ['turn', 'position'] as const) {
      const engine = new ScriptedEngine(scripts);
      const out = await new ToolLoop([new FakeTool(() => ok('413'))], OPTS).run(
        engine,
        reqs,
        { maxNewTokens: 400, seed: 7 },
        { streams },
      );
      texts.push(out.map((t) => t.text));
      const keys = engine.calls.map((c) => c.sampleKeys);
      expect(keys).to.deep.equal(streams === 'turn' ? [['a#0', 'b#0'], ['a#1']] : [undefined, undefined]);
      expect(engine.calls[1]!.affinityKeys).to.deep.equal(['a']);
    }
    expect(texts[1]).to.deep.equal(texts[0]);
  });

  it('ends with max_turns when the model asks for one tool call more than maxTurns', async () => {
    const engine = new ScriptedEngine({ P: [PY('print(1)')] });
    const tool = new FakeTool(() => ok('1'));
    const [t] = await new ToolLoop([tool], { ...OPTS, maxTurns: 2 }).run(engine, [req('x', 'P')], {
      maxNewTokens: 2000,
    });
    expect(t).to.include({ stopReason: 'max_turns', toolCalls: 2, turns: 3 });
    expect(tool.calls).to.have.length(2);
    expect(maskedSpans(t!)).to.deep.equal(['\n1\n```\n', '\n1\n```\n']);
    expect(t!.text.endsWith('```output')).to.equal(true);
    checkInvariants(t!);
  });

  it('budgets: the whole response stays within maxResponseLength (length), observations count', async () => {
    const turn = PY('print(1)');
    const engine = new ScriptedEngine({ P: [turn, 'done'] });
    const budget = turn.length + 4; // the observation '\n1\n```\n' (7 tokens) does not fit: 4 of it do
    const [t] = await new ToolLoop([new FakeTool(() => ok('1'))], { ...OPTS, maxResponseLength: budget }).run(
      engine,
      [req('x', 'P')],
      { maxNewTokens: 10_000 },
    );
    expect(t!.stopReason).to.equal('length');
    expect(t!.responseIds).to.have.length(budget);
    expect(t!.text).to.equal(`${turn}\n1\n\``);
    expect(t!.responseMask.slice(turn.length)).to.deep.equal([0, 0, 0, 0]);
    checkInvariants(t!);
  });

  it('maxResponseLength defaults to sampling.maxNewTokens; maxActionLength caps one turn', async () => {
    const engine = new ScriptedEngine({ P: ['abcdefghij…'] });
    const [t] = await new ToolLoop([new FakeTool(() => ok(''))], OPTS).run(engine, [req('x', 'P')], {
      maxNewTokens: 25,
    });
    expect(t).to.include({ stopReason: 'length', turns: 1 });
    expect(t!.responseIds).to.have.length(25);
    const engine2 = new ScriptedEngine({ P: [PY('print(1)'), 'abcdefghij…'], Q: ['short answer'] });
    const [u, v] = await new ToolLoop([new FakeTool(() => ok('1'))], { ...OPTS, maxActionLength: 40 }).run(
      engine2,
      [req('u', 'P'), req('v', 'Q')],
      { maxNewTokens: 1000 },
    );
    // The first turn (51 chars) is longer than 40: cut, no tool call.
    expect(PY('print(1)').length).to.equal(51);
    expect(u).to.include({ stopReason: 'length', toolCalls: 0, text: PY('print(1)').slice(0, 40) });
    expect(v).to.include({ stopReason: 'eos', text: 'short answer' });
    expect(engine2.calls[0]!.params.maxNewTokens).to.equal(40);
    checkInvariants(u!);
  });

  it('clips a trajectory to its own remaining budget when the batch asks for more', async () => {
    const turn = PY('print(1)');
    // After their tool turns x has 65 - 51 - 7 = 7 tokens left, y 65 - 46 - 7 = 12: one call asks for 12.
    const short = PY('p()');
    expect([turn.length, short.length]).to.deep.equal([51, 46]);
    const engine = new ScriptedEngine({ X: [turn, 'abcdefghij…'], Y: [short, 'yyyyyyyyyy…'] });
    const loop = new ToolLoop([new FakeTool(() => ok('1'))], { ...OPTS, maxResponseLength: 65 });
    const [x, y] = await loop.run(engine, [req('x', 'X'), req('y', 'Y')], { maxNewTokens: 1000 });
    expect(engine.calls.map((c) => [c.prompts.length, c.params.maxNewTokens])).to.deep.equal([
      [2, 65],
      [2, 12],
    ]);
    expect(x!.text).to.equal(`${turn}\n1\n\`\`\`\nabcdefg`);
    expect(y!.text).to.equal(`${short}\n1\n\`\`\`\nyyyyyyyyyyyy`);
    for (const t of [x!, y!]) {
      expect(t.stopReason).to.equal('length');
      expect(t.responseIds).to.have.length(65);
      checkInvariants(t);
    }
  });

  it('invalid action: stop ends the trajectory; observe says so and goes on', async () => {
    const engine = new ScriptedEngine({ P: ['no code here ```output', 'fine'] });
    const [t] = await new ToolLoop([new FakeTool(() => ok('x'))], OPTS).run(engine, [req('x', 'P')], {
      maxNewTokens: 500,
    });
    expect(t).to.include({ stopReason: 'invalid_action', toolCalls: 0, text: 'no code here ```output' });
    expect(t!.metrics.invalidActions).to.equal(1);
    const engine2 = new ScriptedEngine({ P: ['no code here ```output', 'fine'] });
    const [u] = await new ToolLoop([new FakeTool(() => ok('x'))], { ...OPTS, onInvalidAction: 'observe' }).run(
      engine2,
      [req('x', 'P')],
      { maxNewTokens: 500 },
    );
    expect(u).to.include({
      stopReason: 'eos',
      toolCalls: 0,
      turns: 2,
      text: 'no code here ```output\nno code found\n```\nfine',
    });
    expect(maskedSpans(u!)).to.deep.equal(['\nno code found\n```\n']);
  });

  it('answer: a non-action stop string from sampling, or a tool that says done', async () => {
    const engine = new ScriptedEngine({ P: ['x = 1 </answer> more'], Q: [PY('submit()'), 'never'] });
    const tool = new FakeTool(() => ({ observation: 'accepted', done: true, valid: true }));
    const [p, q] = await new ToolLoop([tool], OPTS).run(engine, [req('p', 'P'), req('q', 'Q')], {
      maxNewTokens: 500,
      stop: ['</answer>'],
    });
    expect(p).to.include({ stopReason: 'answer', text: 'x = 1 </answer>' });
    expect(q).to.include({ stopReason: 'answer', toolCalls: 1, turns: 1 });
    expect(maskedSpans(q!)).to.deep.equal(['\naccepted\n```\n']);
    expect(engine.calls[0]!.params.stop).to.deep.equal(['```output', '</answer>']);
  });

  for (const [side, expected] of [
    ['left', 'uvwxyz'],
    ['right', 'abcdef'],
    ['middle', 'abcxyz'],
  ] as const) {
    it(`truncates a long observation to maxObsLength tokens (${side})`, async () => {
      const engine = new ScriptedEngine({ P: [PY('p()'), 'end'] });
      const tool = new FakeTool(() => ok('abcdefghijklmnopqrstuvwxyz'));
      const [t] = await new ToolLoop([tool], { ...OPTS, maxObsLength: 6, obsTruncate: side }).run(
        engine,
        [req('x', 'P')],
        { maxNewTokens: 500 },
      );
      expect(maskedSpans(t!)).to.deep.equal([`\n${expected}\n\`\`\`\n`]);
      expect(t!.metrics.obsTruncated).to.equal(1);
      checkInvariants(t!);
    });
  }

  it('truncateIds keeps the right items', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7];
    expect(truncateIds(xs, 3, 'left')).to.deep.equal([5, 6, 7]);
    expect(truncateIds(xs, 3, 'right')).to.deep.equal([1, 2, 3]);
    expect(truncateIds(xs, 3, 'middle')).to.deep.equal([1, 2, 7]);
    expect(truncateIds(xs, 4, 'middle')).to.deep.equal([1, 2, 6, 7]);
    expect(truncateIds(xs, 9, 'middle')).to.deep.equal(xs);
    expect(truncateIds(xs, 0, 'left')).to.deep.equal([]);
  });

  it('counts tool errors: an invalid result and a failed program go on; a throwing tool ends its trajectory only', async () => {
    const engine = new ScriptedEngine({
      A: [PY('bad'), 'after'],
      B: [PY('boom'), 'never'],
      C: [PY('sandbox'), 'after'],
      D: ['direct'],
    });
    const tool = new FakeTool((a) => {
      if (a === 'boom') throw new Error('tool exploded');
      if (a === 'sandbox')
        return { observation: 'sandbox error: x', done: false, valid: false, info: { status: 'sandbox_error' } };
      return { observation: 'Traceback\nNameError', done: false, valid: true, info: { status: 'error' } };
    });
    const [a, b, c, d] = await new ToolLoop([tool], OPTS).run(
      engine,
      [req('a', 'A'), req('b', 'B'), req('c', 'C'), req('d', 'D')],
      { maxNewTokens: 500 },
    );
    expect(a).to.include({ stopReason: 'eos', toolErrors: 1, toolCalls: 1 });
    expect(b).to.include({ stopReason: 'tool_error', toolErrors: 1, toolCalls: 1 });
    expect(b!.metrics.toolExceptions).to.equal(1);
    expect(c).to.include({ stopReason: 'eos', toolErrors: 1 });
    expect(c!.metrics.sandboxErrors).to.equal(1);
    expect(d).to.include({ stopReason: 'eos', toolErrors: 0 });
  });

  it('a hanging tool ends its own trajectory with tool_error at the timeout; the batch goes on', async () => {
    const engine = new ScriptedEngine({ A: [PY('hang'), 'never'], B: [PY('fast'), PY('fast'), 'done'] });
    const tool = new FakeTool((a) => (a === 'hang' ? new Promise<ToolResult>(() => {}) : ok('1')));
    const t0 = performance.now();
    const [a, b] = await new ToolLoop([tool], { ...OPTS, toolTimeoutSeconds: 0.5 }).run(
      engine,
      [req('a', 'A'), req('b', 'B')],
      { maxNewTokens: 500 },
    );
    expect(performance.now() - t0).to.be.lessThan(3000);
    expect(a).to.include({ stopReason: 'tool_error', toolErrors: 1 });
    expect(a!.metrics.toolTimeouts).to.equal(1);
    expect(b).to.include({
      stopReason: 'eos',
      toolCalls: 2,
      text: `${PY('fast')}\n1\n\`\`\`\n${PY('fast')}\n1\n\`\`\`\ndone`,
    });
  });

  it('a slow tool does not hold back other trajectories: they take further rounds meanwhile', async () => {
    const engine = new ScriptedEngine({ A: [PY('slow'), 'A done'], B: [PY('fast'), PY('fast'), PY('fast'), 'B done'] });
    const tool = new FakeTool((a) =>
      a === 'slow' ? new Promise<ToolResult>((r) => setTimeout(() => r(ok('s')), 800)) : ok('f'),
    );
    const [a, b] = await new ToolLoop([tool], { ...OPTS, batchWaitMs: 50 }).run(
      engine,
      [req('a', 'A'), req('b', 'B')],
      { maxNewTokens: 1000 },
    );
    expect(a).to.include({ stopReason: 'eos', toolCalls: 1 });
    expect(b).to.include({ stopReason: 'eos', toolCalls: 3 });
    const slow = tool.calls.find((c) => c.action === 'slow')!;
    // Every round of B's (3 tool turns + the answer) was generated while A's tool was still running.
    const bRounds = engine.calls.filter((c) => c.prompts.some((p) => p.startsWith('B')));
    expect(bRounds).to.have.length(4);
    for (const r of bRounds.slice(1)) expect(r.at).to.be.lessThan(slow.end!);
    expect(engine.calls.at(-1)!.prompts).to.have.length(1);
  });

  it('tool calls that keep finishing join one round; the wait ends once they stop', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `S${i}`);
    const engine = new ScriptedEngine(Object.fromEntries(ids.map((k) => [k, [PY(k), 'ok']])));
    // Staggered 40 ms apart, each gap far under batchWaitMs (250): all six make the second round.
    const tool = new FakeTool(
      (a) => new Promise<ToolResult>((r) => setTimeout(() => r(ok(a)), 40 * Number(a.slice(1)))),
    );
    const out = await new ToolLoop([tool], { ...OPTS, batchWaitMs: 250 }).run(
      engine,
      ids.map((k) => req(k, k)),
      { maxNewTokens: 500 },
    );
    expect(engine.calls.map((c) => c.prompts.length)).to.deep.equal([6, 6]);
    expect(out.every((t) => t.stopReason === 'eos')).to.equal(true);
    // With batchWaitMs 10 (under the gaps) the stragglers come in later rounds.
    const engine2 = new ScriptedEngine(Object.fromEntries(ids.map((k) => [k, [PY(k), 'ok']])));
    await new ToolLoop([tool], { ...OPTS, batchWaitMs: 10 }).run(
      engine2,
      ids.map((k) => req(k, k)),
      { maxNewTokens: 500 },
    );
    expect(engine2.calls.length).to.be.greaterThan(2);
    expect(engine2.calls.slice(1).reduce((n, c) => n + c.prompts.length, 0)).to.equal(6);
  });

  it('tool calls of different trajectories overlap, up to `concurrency`', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `T${i}`);
    const engine = new ScriptedEngine(Object.fromEntries(ids.map((k) => [k, [PY('wait'), 'ok']])));
    let running = 0;
    let peak = 0;
    const tool = new FakeTool(async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
      return ok('w');
    });
    const t0 = performance.now();
    const out = await new ToolLoop([tool], { ...OPTS, concurrency: 3 }).run(
      engine,
      ids.map((k) => req(k, k)),
      { maxNewTokens: 500 },
    );
    expect(peak).to.equal(3);
    expect(performance.now() - t0).to.be.within(290, 1500);
    expect(out.every((t) => t.stopReason === 'eos')).to.equal(true);
    // The first round held all six prompts in one engine call.
    expect(engine.calls[0]!.prompts).to.have.length(6);
  });

  it('an abort ends every open trajectory with abort and still frees tool state', async () => {
    const engine = new ScriptedEngine({ A: [PY('slow'), 'never'] });
    const tool = new FakeTool(() => new Promise<ToolResult>((r) => setTimeout(() => r(ok('late')), 5000)));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    const [a] = await new ToolLoop([tool], OPTS).run(
      engine,
      [req('a', 'A')],
      { maxNewTokens: 500 },
      { signal: ac.signal },
    );
    expect(performance.now() - t0).to.be.lessThan(2000);
    expect(a!.stopReason).to.equal('abort');
    expect(tool.finished).to.deep.equal(['a']);
  });

  it('leaves no listener on the run signal behind (runs share a long-lived signal)', async () => {
    const ac = new AbortController();
    const loop = new ToolLoop([new FakeTool(() => ok('1'))], { ...OPTS, batchWaitMs: 5 });
    for (let i = 0; i < 3; i++) {
      const engine = new ScriptedEngine({ A: [PY('x'), 'done'], B: ['direct'] });
      await loop.run(engine, [req('a', 'A'), req('b', 'B')], { maxNewTokens: 200 }, { signal: ac.signal });
    }
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
  });

  it('refuses an empty tool list or stop list', () => {
    expect(() => new ToolLoop([], OPTS)).to.throw(/names no tool/);
    expect(() => new ToolLoop([new FakeTool(() => ok(''))], { ...OPTS, stop: [] })).to.throw(/stop/);
  });
});
