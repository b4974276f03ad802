import assert from 'node:assert/strict';
import { BadRequestError, parseObservationRequest } from '../../../plugins/tool-server/protocol.js';
import { startToolServer, type ToolServerHandle } from '../../../plugins/tool-server/server.js';
import { LatencyWindow } from '../../../plugins/tool-server/metrics.js';
import { CalcTool } from './calc-tool.js';
import { SandboxFusionTool } from '../../../plugins/sandbox-fusion/tool.js';
import { startFakeSandbox } from '../sandbox-fusion/fake-server.js';

// raw: these tests are about dispatch; the observation envelopes are checked in verl-tool-conformance.test.ts
const OPTS = {
  host: '127.0.0.1',
  port: 0,
  maxConcurrency: 16,
  requestTimeoutMs: 5000,
  doneIfInvalid: false,
  idleTrajectoryMs: 0,
  maxBodyBytes: 1 << 20,
  observationFormat: 'raw',
};

async function post(url: string, body: unknown, raw?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/get_observation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('tool-server: request validation', () => {
  it('accepts the VeRL-Tool shape, reads booleans leniently and ignores unknown top-level fields', () => {
    const items = parseObservationRequest({
      trajectory_ids: ['a', 7],
      actions: ['x', 'y'],
      finish: [0, 'yes'],
      is_last_step: [true, false],
      extra_fields: [{ k: 1 }, null],
      temperature: [0.5, 0.7],
      mode: 'fast',
    });
    assert.deepEqual(items, [
      { trajectoryId: 'a', action: 'x', finish: false, isLastStep: true, extra: { k: 1 } },
      { trajectoryId: '7', action: 'y', finish: true, isLastStep: false, extra: {} },
    ]);
  });

  // [what, body, FastAPI-style errors: type and loc of each]
  const bad: [string, unknown, [string, (string | number)[]][]][] = [
    ['not an object', [1], [['model_attributes_type', ['body']]]],
    ['no ids', { actions: ['x'] }, [['missing', ['body', 'trajectory_ids']]]],
    [
      'nothing',
      {},
      [
        ['missing', ['body', 'trajectory_ids']],
        ['missing', ['body', 'actions']],
      ],
    ],
    [
      'empty',
      { trajectory_ids: [], actions: [] },
      [
        ['too_short', ['body', 'trajectory_ids']],
        ['too_short', ['body', 'actions']],
      ],
    ],
    ['length mismatch', { trajectory_ids: ['a', 'b'], actions: ['x'] }, [['value_error', ['body', 'actions']]]],
    [
      'finish mismatch',
      { trajectory_ids: ['a'], actions: ['x'], finish: [true, false] },
      [['value_error', ['body', 'finish']]],
    ],
    [
      'finish not a boolean',
      { trajectory_ids: ['a'], actions: ['x'], finish: ['maybe'], is_last_step: [2, 0.5, null] },
      [
        ['value_error', ['body', 'is_last_step']],
        ['bool_parsing', ['body', 'finish', 0]],
        ['bool_parsing', ['body', 'is_last_step', 0]],
        ['bool_type', ['body', 'is_last_step', 1]],
        ['bool_type', ['body', 'is_last_step', 2]],
      ],
    ],
    ['action not string', { trajectory_ids: ['a'], actions: [3] }, [['string_type', ['body', 'actions', 0]]]],
    [
      'extra_fields wrong',
      { trajectory_ids: ['a'], actions: ['x'], extra_fields: [[1]] },
      [['dict_type', ['body', 'extra_fields', 0]]],
    ],
    ['empty id', { trajectory_ids: [''], actions: ['x'] }, [['string_too_short', ['body', 'trajectory_ids', 0]]]],
  ];
  for (const [what, body, want] of bad) {
    it(`rejects: ${what}`, () => {
      let err: unknown;
      try {
        parseObservationRequest(body);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof BadRequestError, 'throws BadRequestError');
      assert.equal(err.status, 422);
      assert.deepEqual(err.errors.map((e) => [e.type, e.loc]).sort(), [...want].sort());
    });
  }

  it('summarises latencies by nearest rank', () => {
    const w = new LatencyWindow(4);
    for (const x of [10, 20, 30, 40, 50]) w.add(x);
    // the window keeps 20..50; mean and max cover all five
    assert.deepEqual(w.summary(), { count: 5, meanMs: 30, p50Ms: 30, p95Ms: 50, p99Ms: 50, maxMs: 50 });
  });
});

describe('tool-server over HTTP', () => {
  let server: ToolServerHandle | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('runs actions, keeps per-trajectory state, and frees it on finish and on the last step', async () => {
    const calc = new CalcTool();
    server = await startToolServer([[calc]], OPTS);
    let r = await post(server.url, {
      trajectory_ids: ['t1', 't2'],
      actions: ['so <calc>2 * 21</calc>', '<calc>5 + 5</calc>'],
    });
    assert.equal(r.status, 200);
    assert.deepEqual(
      [r.json.observations, r.json.dones, r.json.valids],
      [
        ['42', '10'],
        [false, false],
        [true, true],
      ],
    );
    r = await post(server.url, {
      trajectory_ids: ['t1', 't2', 't3'],
      actions: ['<calc>ans + 1</calc>', '<calc>ans * 3</calc>', 'no tool call here'],
    });
    assert.deepEqual(
      [r.json.observations, r.json.dones, r.json.valids],
      [
        ['43', '30', ''],
        [false, false, false],
        [true, true, false],
      ],
    );
    assert.equal(r.json.infos[2].status, 'no_tool');
    r = await post(server.url, {
      trajectory_ids: ['t1', 't2'],
      actions: ['', '<calc>ans - 1</calc>'],
      finish: [true, false],
      is_last_step: [false, true],
    });
    // a last step runs and frees the state, but done stays the tool's own (VeRL-Tool's contract)
    assert.deepEqual(
      [r.json.observations, r.json.dones, r.json.valids],
      [
        ['', '29'],
        [true, false],
        [true, true],
      ],
    );
    assert.deepEqual([...calc.memory.keys()], [], 'finish and is_last_step both freed their trajectory');
    assert.deepEqual(calc.finished.sort(), ['t1', 't2']);
    r = await post(server.url, { trajectory_ids: ['t1'], actions: ['<calc>ans + 1</calc>'] });
    assert.deepEqual(r.json.observations, ['1'], 'a finished trajectory starts from a clean state');
  });

  it("answers the payloads VeRL-Tool's agent manager sends (a turn, a finish with the final text, closing overlong ones)", async () => {
    const calc = new CalcTool();
    server = await startToolServer([[calc]], OPTS);
    // a turn: finish = not do_action, is_last_step the same for all, extra_fields with turn counters
    let r = await post(server.url, {
      trajectory_ids: ['u1', 'u2'],
      actions: ['<calc>3 * 4</calc>', 'The answer is \\boxed{7}.'],
      finish: [false, true],
      is_last_step: [false, false],
      extra_fields: [
        { current_step: 0, max_turns: 3, turns_left: 3 },
        { current_step: 0, max_turns: 3, turns_left: 3 },
      ],
    });
    assert.deepEqual(
      [r.json.observations, r.json.dones, r.json.valids],
      [
        ['12', ''],
        [false, true],
        [true, true],
      ],
    );
    assert.deepEqual(calc.calls, ['u1:3 * 4'], "a finishing trajectory's text is not run");
    // close_traj_tool_threads: finish and is_last_step for every id, empty actions, no extra_fields
    r = await post(server.url, { trajectory_ids: ['u1'], actions: [''], finish: [true], is_last_step: [true] });
    assert.deepEqual([r.json.observations, r.json.dones, r.json.valids], [[''], [true], [true]]);
    assert.equal(calc.memory.size, 0);
  });

  it('ends a trajectory on an invalid action when asked to (done_if_invalid)', async () => {
    server = await startToolServer([[new CalcTool()]], { ...OPTS, doneIfInvalid: true });
    const r = await post(server.url, { trajectory_ids: ['t'], actions: ['nothing'] });
    assert.deepEqual([r.json.dones, r.json.valids], [[true], [false]]);
  });

  it("runs one trajectory's actions in order, even within one request", async () => {
    server = await startToolServer([[new CalcTool()]], OPTS);
    const r = await post(server.url, {
      trajectory_ids: ['t', 't', 't'],
      actions: ['<calc>1 + 1</calc>', '<calc>ans * 10</calc>', '<calc>ans + 3</calc>'],
    });
    assert.deepEqual(r.json.observations, ['2', '20', '23']);
  });

  it('keeps each trajectory on one worker and spreads new trajectories over workers', async () => {
    const w = [new CalcTool('calc'), new CalcTool('calc')];
    server = await startToolServer([[w[0]], [w[1]]], OPTS);
    const ids = ['a', 'b', 'c', 'd'];
    await post(server.url, { trajectory_ids: ids, actions: ids.map((_, i) => `<calc>${i} + 100</calc>`) });
    for (let step = 0; step < 3; step++) {
      const r = await post(server.url, { trajectory_ids: ids, actions: ids.map(() => '<calc>ans + 1</calc>') });
      assert.deepEqual(
        r.json.observations,
        ids.map((_, i) => String(i + 101 + step)),
        'state found: every call hit the same worker',
      );
    }
    assert.equal(w[0].memory.size, 2);
    assert.equal(w[1].memory.size, 2);
    for (const id of ids) assert.equal(Number(w[0].memory.has(id)) + Number(w[1].memory.has(id)), 1);
    const m = (await (await fetch(`${server.url}/metrics`)).json()) as any;
    assert.deepEqual(m.trajectoriesPerWorker, [2, 2]);
  });

  it('limits concurrent tool calls', async () => {
    const calc = new CalcTool();
    server = await startToolServer([[calc]], { ...OPTS, maxConcurrency: 2 });
    const t0 = Date.now();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const r = await post(server.url, { trajectory_ids: ids, actions: ids.map(() => '<calc>sleep 60</calc>') });
    assert.deepEqual(
      r.json.observations,
      ids.map(() => 'slept 60'),
    );
    assert.equal(calc.maxRunning, 2);
    assert.ok(Date.now() - t0 >= 170, `6 calls of 60 ms, 2 at a time: ${Date.now() - t0} ms`);
  });

  it('answers at the request timeout: finished actions keep their results, slow ones say they timed out', async () => {
    server = await startToolServer([[new CalcTool()]], { ...OPTS, requestTimeoutMs: 150 });
    const t0 = Date.now();
    const r = await post(server.url, {
      trajectory_ids: ['fast', 'slow'],
      actions: ['<calc>1 + 2</calc>', '<calc>sleep 2000</calc>'],
    });
    assert.ok(Date.now() - t0 < 1500, 'did not wait for the slow tool');
    assert.deepEqual(r.json.observations[0], '3');
    assert.match(r.json.observations[1], /no result within the server's request timeout \(150 ms\)/);
    assert.deepEqual(r.json.valids, [true, false]);
  });

  it("cancels a tool's work at the request deadline through extra.signal (sandbox-fusion on a hanging server)", async () => {
    const fake = await startFakeSandbox();
    fake.fallback = 'hang';
    const sf = new SandboxFusionTool({
      name: 'python',
      urls: [fake.url],
      language: 'python',
      fences: ['python'],
      runTimeoutSeconds: 5,
      compileTimeoutSeconds: 5,
      memoryLimitMB: -1,
      stdin: '',
      requestTimeoutMs: 60_000,
      connectTimeoutMs: 1000,
      retries: 0,
      retrySandboxErrors: false,
      backoffBaseMs: 0,
      backoffMaxMs: 0,
      connections: 4,
      keepAliveMs: 1000,
      cooldownMs: 0,
      maxObservationChars: 1000,
      errorTailChars: 100,
    });
    try {
      server = await startToolServer([[sf]], { ...OPTS, requestTimeoutMs: 200 });
      const r = await post(server.url, { trajectory_ids: ['t'], actions: ['```python\nprint(1)\n```'] });
      assert.match(r.json.observations[0], /request timeout \(200 ms\)/);
      await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(
        sf.client.stats().map((e) => e.inFlight),
        [0],
        'the HTTP call to the sandbox was aborted, not left hanging',
      );
    } finally {
      await server?.close();
      server = undefined;
      await sf.dispose();
      await fake.close();
    }
  });

  it('confines a tool that throws to its own trajectory', async () => {
    server = await startToolServer([[new CalcTool()]], OPTS);
    const r = await post(server.url, {
      trajectory_ids: ['x', 'y'],
      actions: ['<calc>throw</calc>', '<calc>3 * 3</calc>'],
    });
    assert.deepEqual(r.json.observations, ['tool error: calc exploded', '9']);
    assert.deepEqual(r.json.valids, [false, true]);
  });

  it("answers 422 with FastAPI's error list for contract violations and bad JSON, 404/405 for other routes, 413 for huge bodies", async () => {
    server = await startToolServer([[new CalcTool()]], { ...OPTS, maxBodyBytes: 1000 });
    let r = await post(server.url, { trajectory_ids: ['a', 'b'], actions: ['x'] });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.detail, [
      {
        type: 'value_error',
        loc: ['body', 'actions'],
        msg: 'actions has 1 entries but trajectory_ids has 2: they must have equal length',
        input: ['x'],
      },
    ]);
    r = await post(server.url, null, '{"trajectory_ids": [');
    assert.equal(r.status, 422);
    assert.equal(r.json.detail[0].type, 'json_invalid');
    assert.match(r.json.detail[0].msg, /^the body is not valid JSON/);
    r = await post(server.url, { trajectory_ids: ['a'], actions: ['x'.repeat(2000)] });
    assert.equal(r.status, 413);
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/get_observation`)).status, 405);
    const m = (await (await fetch(`${server.url}/metrics`)).json()) as any;
    assert.equal(m.badRequests, 2);
  });

  it('frees trajectories left idle by a lost client, but not busy ones', async () => {
    const calc = new CalcTool();
    server = await startToolServer([[calc]], { ...OPTS, idleTrajectoryMs: 1000 });
    await post(server.url, { trajectory_ids: ['old', 'new'], actions: ['<calc>1 + 1</calc>', '<calc>2 + 2</calc>'] });
    const slow = post(server.url, { trajectory_ids: ['busy'], actions: ['<calc>sleep 300</calc>'] });
    await new Promise((r) => setTimeout(r, 50));
    const now = Date.now();
    assert.deepEqual(await server.dispatcher.sweep(now + 500), [], 'nothing is idle for a second yet');
    assert.deepEqual(await server.dispatcher.sweep(now + 5000), ['old', 'new'], 'busy is running, so it stays');
    assert.deepEqual(calc.finished, ['old', 'new']);
    assert.equal(calc.memory.size, 0);
    await slow;
    const m = (await (await fetch(`${server.url}/metrics`)).json()) as any;
    assert.equal(m.expired, 2);
    assert.equal(m.activeTrajectories, 1);
  });

  it('reports health and metrics (counts and latencies)', async () => {
    server = await startToolServer([[new CalcTool()]], OPTS);
    await post(server.url, { trajectory_ids: ['a', 'b'], actions: ['<calc>1 + 1</calc>', 'none'] });
    await post(server.url, { trajectory_ids: ['a'], actions: [''], finish: [true] });
    const h = (await (await fetch(`${server.url}/health`)).json()) as any;
    assert.deepEqual(h, {
      status: 'healthy',
      tools: ['calc'],
      workers: 1,
      maxConcurrency: 16,
      observationFormats: { calc: 'raw' },
    });
    const m = (await (await fetch(`${server.url}/metrics`)).json()) as any;
    assert.equal(m.requests, 2);
    assert.equal(m.actions, 1);
    assert.equal(m.noToolMatched, 1);
    assert.equal(m.finishes, 1);
    assert.equal(m.activeTrajectories, 1, 'b is still live: no finish for it');
    assert.deepEqual(m.callsPerTool, { calc: 1 });
    assert.equal(m.requestLatency.count, 2);
    assert.equal(m.actionLatency.count, 1);
    assert.ok(m.requestLatency.p50Ms >= 0 && m.requestLatency.maxMs >= m.requestLatency.p50Ms);
  });
});

describe('bench tool-server', () => {
  it('drives every mode and counts the requests each one sent', async () => {
    const { runToolServerBench } = await import('../../../plugins/tool-server/bench.js');
    const res = await runToolServerBench({ trajectories: 4, turns: 3, serviceMs: 0 });
    assert.deepEqual(Object.keys(res.modes), ['direct', 'http, batched (2 ms)', 'http, one call per request']);
    // unbatched: one request per call plus one per finish
    assert.equal(res.modes['http, one call per request'].requests, 4 * 3 + 4);
    assert.ok(
      res.modes['http, batched (2 ms)'].requests < 4 * 3 + 4,
      `batched sent ${res.modes['http, batched (2 ms)'].requests}`,
    );
    for (const m of Object.values(res.modes)) assert.ok(m.callsPerSec > 0 && m.p95Ms >= m.p50Ms);
  });
});
