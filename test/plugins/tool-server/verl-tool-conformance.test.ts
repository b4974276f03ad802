import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  parseObservationFormat,
  unwrapObservation,
  wrapObservation,
} from '../../../plugins/tool-server/observation-format.js';
import { RemoteTools } from '../../../plugins/tool-server/remote.js';
import { startToolServer, type ToolServerHandle, type ToolServerOptions } from '../../../plugins/tool-server/server.js';
import type { PythonTool } from '../../../plugins/python-sandbox/tool.js';
import { makeTool } from '../python-sandbox/helpers.js';
import { CalcTool } from './calc-tool.js';

/**
 * What a VeRL-Tool trainer sends to `/get_observation` and what it must get back, replayed against
 * agent0 tool-server. The vectors are written by hand from VeRL-Tool's contract
 * (TIGER-AI-Lab/verl-tool: the request model and tool routing of verl_tool/servers/tool_server.py,
 * action parsing, stdin, pre-imports and observation envelopes of tools/python_code.py, the
 * payloads of agent_loop/verltool_agent_loop.py and the cases of tests/test_python_code_tool.py).
 * Every expected observation below is what VeRL-Tool's python_code tool answers to that action.
 */

const BASE: ToolServerOptions = {
  host: '127.0.0.1',
  port: 0,
  maxConcurrency: 8,
  requestTimeoutMs: 30_000,
  doneIfInvalid: false,
  idleTrajectoryMs: 0,
  maxBodyBytes: 1 << 20,
};

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/get_observation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** One action as VeRL-Tool's test script sends it (test_python_code_tool.py's _send_test_request). */
const scriptPayload = (action: string, more: Record<string, unknown> = {}) => ({
  trajectory_ids: ['test-python-001'],
  actions: [action],
  extra_fields: [{}],
  ...more,
});

/** One turn as VeRL-Tool's agent loop sends it (interact_with_tool_server). */
const turnPayload = (id: string, action: string, extra: Record<string, unknown> = {}) => ({
  trajectory_ids: [id],
  actions: [action],
  finish: [false],
  is_last_step: [false],
  extra_fields: [extra],
});

describe('VeRL-Tool conformance: observation envelopes', () => {
  const pc = parseObservationFormat('python_code');
  const ipy = parseObservationFormat('ipython_code');
  // [action, python_code's observation of the output '1', ipython_code's]
  const vectors: [string, string, string][] = [
    // the agent loop's action ends with its stop string: an opened ```output block (3 fences) that the observation
    // closes
    ['```python\nprint(1)\n```\n```output', '\n1\n```\n', '\n1\n```\n'],
    // every block closed (2 fences): the output gets a block of its own
    ['```python\nprint(1)\n```', '\n```result\n1\n```\n', '\n```output\n1\n```\n'],
    ['<python>print(1)</python> ...', '\n<result>\n1\n</result>\n', '\n<output>\n1\n</output>\n'],
    // the action opened the result tag itself
    ['<python>print(1)</python>\n<result>', '\n1\n</result>\n', '\n<output>\n1\n</output>\n'],
    [
      '<tool_call><python>print(1)</python></tool_call>',
      '\n<tool_response>\n```result\n1\n```\n</tool_response>\n',
      '1',
    ],
    // ```py is not ```python: python_code falls back to result tags
    ['```py\nprint(1)\n```', '\n<result>\n1\n</result>\n', '\n```output\n1\n```\n'],
    ['```python\nprint(1)\n```\n```', '\n1\n```\n', 'output\n1\n```\n'],
    ['```python\nprint(1)\n```<|calling system for feedback|>', '\n```result\n1\n```\n', '\n```output\n1\n```\n'],
  ];
  for (const [action, want, wantIpy] of vectors) {
    it(`wraps and unwraps the output of ${JSON.stringify(action)}`, () => {
      assert.equal(wrapObservation(pc, action, '1'), want);
      assert.equal(wrapObservation(ipy, action, '1'), wantIpy);
      assert.equal(unwrapObservation(pc, action, want), '1');
      assert.equal(unwrapObservation(ipy, action, wantIpy), '1');
    });
  }

  it('trims as VeRL-Tool does (spaces and line feeds), takes another output tag, and leaves foreign text alone', () => {
    assert.equal(wrapObservation(pc, '<python>x</python>', '\n 1\t\n '), '\n<result>\n1\t\n</result>\n');
    assert.equal(
      wrapObservation(parseObservationFormat('python_code:output'), '```python\nx\n```', 'A'),
      '\n```output\nA\n```\n',
    );
    assert.equal(wrapObservation(parseObservationFormat('raw'), '```python\nx\n```', ' A\n'), ' A\n');
    assert.equal(unwrapObservation(pc, '```python\nx\n```', ''), '', 'an invalid action answers an empty observation');
    assert.equal(unwrapObservation(pc, '```python\nx\n```', 'plain text'), 'plain text');
    assert.equal(
      unwrapObservation(pc, '```python\nx\n```', '\n```result\n\n```\n'),
      '',
      'a program that printed nothing',
    );
    assert.throws(() => parseObservationFormat('xml'), /unknown observation format 'xml'/);
  });
});

describe('VeRL-Tool conformance: a trainer against agent0 tool-server with tool/python', function () {
  this.timeout(60_000);
  let python: PythonTool | undefined;
  let server: ToolServerHandle | undefined;
  const extra: ToolServerHandle[] = [];
  const serve = async (o: Partial<ToolServerOptions>) => {
    const s = await startToolServer([[python!]], { ...BASE, ...o });
    extra.push(s);
    return s;
  };

  before(async function () {
    try {
      // VeRL-Tool's python tool pre-imports its modules by default; agent0 makes it an option
      python = await makeTool({ preImport: 'verl-tool' });
    } catch {
      this.skip();
      return;
    }
    // no observation format given: the route's default must be VeRL-Tool's
    server = await startToolServer([[python]], BASE);
  });
  after(async () => {
    await Promise.all(extra.map((s) => s.close()));
    await server?.close();
    await python?.dispose();
  });

  it('answers test_python_code_tool.py: <python> actions (cases 1, 4, 6) and the finish (case 9)', async () => {
    let r = await post(server!.url, scriptPayload("<python>print('Hello from Python!')</python> ..."));
    assert.equal(r.status, 200);
    assert.deepEqual(
      [r.json.observations, r.json.dones, r.json.valids],
      [['\n<result>\nHello from Python!\n</result>\n'], [false], [true]],
    );
    assert.equal(typeof r.json.processing_time_ms, 'number');
    r = await post(
      server!.url,
      scriptPayload(
        "```<python>\nprint('Hello from Python!')</python> ... <python>print('Hello again!')</python>``` ...",
      ),
    );
    assert.deepEqual(r.json.observations, ['\n<result>\nHello from Python!\nHello again!\n</result>\n']);
    r = await post(server!.url, scriptPayload("```<python>prnit('Hello from Python!')</python> ..."));
    assert.match(
      r.json.observations[0],
      /^\n<result>\nTraceback \(most recent call last\):\n[\s\S]*NameError: name 'prnit' is not defined[^\n]*\n<\/result>\n$/,
    );
    assert.deepEqual([r.json.dones, r.json.valids], [[false], [true]], 'a program that raised is a valid action');
    r = await post(server!.url, scriptPayload('', { finish: [true] }));
    assert.deepEqual([r.json.observations, r.json.dones, r.json.valids], [[''], [true], [true]]);
  });

  it("wraps observations in VeRL-Tool's envelope by default, and in the format chosen per tool", async () => {
    const turn = 'Let me compute.\n```python\nprint(6 * 7)\n```\n```output';
    let r = await post(server!.url, turnPayload('env-1', turn));
    assert.deepEqual(
      r.json.observations,
      ['\n42\n```\n'],
      'the observation closes the ```output block the action opened',
    );
    r = await post(server!.url, turnPayload('env-2', '```python\nprint(6 * 7)\n```'));
    assert.deepEqual(r.json.observations, ['\n```result\n42\n```\n']);
    r = await post(server!.url, turnPayload('env-3', 'I will use python: <python>print(6 * 7)</python>\n<result>'));
    assert.deepEqual(r.json.observations, ['\n42\n</result>\n']);
    const raw = await serve({ toolObservationFormats: { python: 'raw' } });
    assert.deepEqual((await post(raw.url, turnPayload('env-4', turn))).json.observations, ['42']);
    const tagged = await serve({ observationFormat: 'raw', toolObservationFormats: { python: 'python_code:output' } });
    assert.deepEqual((await post(tagged.url, turnPayload('env-5', '```python\nprint(6 * 7)\n```'))).json.observations, [
      '\n```output\n42\n```\n',
    ]);
    assert.deepEqual(((await (await fetch(`${tagged.url}/health`)).json()) as any).observationFormats, {
      python: 'python_code:output',
    });
    await assert.rejects(
      serve({ toolObservationFormats: { calc: 'raw' } }),
      /observation format for 'calc', which is not served/,
    );
  });

  it('runs every code block of the action together', async () => {
    const r = await post(
      server!.url,
      turnPayload('blocks', 'First x:\n```python\nx = 5\n```\nthen\n```python\nprint(x * 2)\n```\n```output'),
    );
    assert.deepEqual(r.json.observations, ['\n10\n```\n']);
  });

  it("pre-imports VeRL-Tool's modules when asked (preImport: verl-tool)", async () => {
    const r = await post(
      server!.url,
      turnPayload(
        'pre',
        '<python>print(factorial(5), comb(5, 2), list(accumulate([1, 2, 3])), Counter("aab")["a"])</python>',
      ),
    );
    assert.deepEqual(r.json.observations, ['\n<result>\n120 10 [1, 3, 6] 2\n</result>\n']);
  });

  it("feeds a ```input block to the program's stdin, over extra_fields.stdin", async () => {
    const code = '```python\na, b = map(int, input().split())\nprint(a + b)\n```';
    let r = await post(server!.url, turnPayload('in-1', `${code}\n\`\`\`input\n3 4\n\`\`\`\n\`\`\`output`));
    assert.deepEqual(r.json.observations, ['\n7\n```\n']);
    r = await post(server!.url, turnPayload('in-2', `${code}\n\`\`\`output`, { stdin: '10 20' }));
    assert.deepEqual(r.json.observations, ['\n30\n```\n'], 'extra_fields.stdin without an input block');
    r = await post(
      server!.url,
      turnPayload('in-3', `${code}\n\`\`\`input\n1 2\n\`\`\`\n\`\`\`output`, { stdin: '10 20' }),
    );
    assert.deepEqual(r.json.observations, ['\n3\n```\n'], "the action's input block wins");
  });

  it('ignores unknown top-level fields, scalars and arrays of any length (200)', async () => {
    const r = await post(server!.url, {
      ...turnPayload('unk', '<python>print(1)</python>'),
      temperature: 0.7,
      request_id: 'abc',
      tags: [1, 2, 3],
      meta: { a: 1 },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.observations, ['\n<result>\n1\n</result>\n']);
  });

  it("answers a bad body 422 with FastAPI's list of errors, and reads booleans as pydantic does (finish: [1])", async () => {
    let r = await post(server!.url, { trajectory_ids: ['v'] });
    assert.equal(r.status, 422);
    assert.ok(Array.isArray(r.json.detail));
    assert.deepEqual(
      r.json.detail.map((e: any) => [e.type, e.loc]),
      [['missing', ['body', 'actions']]],
    );
    assert.equal(typeof r.json.detail[0].msg, 'string');
    r = await post(server!.url, { trajectory_ids: ['v'], actions: ['<python>print(1)</python>'], finish: [1] });
    assert.equal(r.status, 200);
    assert.deepEqual(
      [r.json.observations, r.json.dones, r.json.valids],
      [[''], [true], [true]],
      'finish: [1] is a finish',
    );
    r = await post(server!.url, {
      trajectory_ids: ['v'],
      actions: ['<python>print(1)</python>'],
      finish: ['no'],
      is_last_step: [0],
    });
    assert.deepEqual([r.json.observations, r.json.dones], [['\n<result>\n1\n</result>\n'], [false]]);
  });

  it('answers an action no tool can parse with an empty observation, not done, invalid', async () => {
    const r = await post(server!.url, turnPayload('none', 'I think the answer is 4.'));
    assert.deepEqual([r.json.observations, r.json.dones, r.json.valids], [[''], [false], [false]]);
  });
});

describe('VeRL-Tool conformance: finish and last step', () => {
  let server: ToolServerHandle;
  let calc: CalcTool;
  beforeEach(async () => {
    calc = new CalcTool();
    server = await startToolServer([[calc]], { ...BASE, observationFormat: 'raw' });
  });
  afterEach(async () => {
    await server.close();
  });

  it('finishes a trajectory whose extra_fields say finish: true (the action is not run, the state is freed)', async () => {
    await post(server.url, turnPayload('f', '<calc>2 + 3</calc>'));
    assert.equal(calc.memory.get('f'), 5);
    const r = await post(server.url, {
      trajectory_ids: ['f'],
      actions: ['<calc>ans + 1</calc>'],
      extra_fields: [{ finish: true }],
    });
    assert.deepEqual([r.json.observations, r.json.dones, r.json.valids], [[''], [true], [true]]);
    assert.deepEqual(calc.calls, ['f:2 + 3'], 'the finishing action did not run');
    assert.equal(calc.memory.has('f'), false);
  });

  it("runs a last step and frees its state, but keeps the tool's own done", async () => {
    await post(server.url, turnPayload('l', '<calc>2 + 3</calc>'));
    let r = await post(server.url, {
      trajectory_ids: ['l'],
      actions: ['<calc>ans * 2</calc>'],
      finish: [false],
      is_last_step: [true],
    });
    assert.deepEqual([r.json.observations, r.json.dones, r.json.valids], [['10'], [false], [true]]);
    assert.equal(calc.memory.has('l'), false, 'the state was freed');
    r = await post(server.url, { trajectory_ids: ['m'], actions: ['<calc>stop</calc>'], is_last_step: [true] });
    assert.deepEqual(r.json.dones, [true], 'a tool that ends the trajectory still does');
    r = await post(server.url, {
      trajectory_ids: ['n'],
      actions: ['<calc>1 + 1</calc>'],
      extra_fields: [{ is_last_step: true }],
    });
    assert.deepEqual(r.json.dones, [false]);
    assert.equal(calc.memory.has('n'), false, 'is_last_step in extra_fields frees the state too');
  });
});

describe('VeRL-Tool conformance: remote-tools against a VeRL-Tool server', () => {
  let peer: http.Server;
  let url: string;
  const seen: any[] = [];
  // Answers as VeRL-Tool's python_code tool does, with the literal envelopes of its contract.
  const answers: Record<string, unknown> = {
    '```python\nprint(6 * 7)\n```': '\n```result\n42\n```\n',
    '```python\nprint(7)\n```': { obs: '\n```result\n7\n```\n', reward: 1 },
    '```python\nprint()\n```': '\n```result\n\n```\n',
  };
  before(async () => {
    peer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const b = JSON.parse(body);
        seen.push(b);
        if (b.actions[0] === '```python\nreject\n```') {
          const detail = [{ type: 'bool_parsing', loc: ['body', 'finish', 0], msg: 'not a boolean', input: 'x' }];
          return res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ detail }));
        }
        const out = JSON.stringify({
          observations: b.actions.map((a: string, i: number) =>
            b.finish[i] ? '' : (answers[a] ?? { obs: '', invalid_reason: 'No valid tool found for action' }),
          ),
          dones: b.actions.map((_: string, i: number) => b.finish[i] === true),
          valids: b.actions.map((a: string) => a in answers),
          processing_time_ms: 1.5,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(out);
      });
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => peer.close(r));
  });

  const client = (o: Record<string, unknown> = {}) =>
    new RemoteTools({
      name: 'python',
      url,
      fences: ['python'],
      pattern: '',
      actionTemplate: '```python\n{action}\n```',
      timeoutMs: 2000,
      connectTimeoutMs: 1000,
      retries: 0,
      backoffBaseMs: 1,
      backoffMaxMs: 1,
      batchWindowMs: 0,
      maxBatchSize: 8,
      connections: 2,
      keepAliveMs: 1000,
      ...o,
    });

  it("takes VeRL-Tool's envelope off, so the agent loop wraps the output once", async () => {
    const t = client();
    try {
      assert.equal((await t.conductAction('a', 'print(6 * 7)')).observation, '42');
      assert.equal((await t.conductAction('b', 'print(7)')).observation, '7', 'an {obs: ...} observation');
      assert.equal((await t.conductAction('c', 'print()')).observation, '', 'a program that printed nothing');
      const invalid = await t.conductAction('d', 'oops(');
      assert.deepEqual([invalid.observation, invalid.valid], ['', false]);
      await t.finish('a');
      assert.deepEqual(seen.at(-1), {
        trajectory_ids: ['a'],
        actions: [''],
        finish: [true],
        is_last_step: [false],
        extra_fields: [{}],
      });
    } finally {
      await t.dispose();
    }
  });

  it("reports FastAPI's 422 error list readably and does not retry it", async () => {
    const t = client({ retries: 2 });
    try {
      const before = seen.length;
      const r = await t.conductAction('r', 'reject');
      assert.equal(r.valid, false);
      assert.match(r.observation, /HTTP 422: body\.finish\.0: not a boolean/);
      assert.equal(seen.length - before, 1, 'not retried');
    } finally {
      await t.dispose();
    }
  });

  it('sends every code block of the turn as one program, and its ```input block, as tool/python runs them', async () => {
    const t = client({ fences: ['python', 'py'] });
    try {
      const p = t.parseAction(
        '```python\na = 6\n```\nthen\n```py\nprint(a * int(input()))\n```\n```input\n7\n```\n```output',
      );
      assert.deepEqual(p, { valid: true, action: 'a = 6\nprint(a * int(input()))', extra: { stdin: '7' } });
      assert.deepEqual(t.parseAction("<python>print('tag')</python>"), { valid: true, action: "print('tag')" });
      await t.conductAction('s', p.action as string, p.extra);
      assert.equal(seen.at(-1).actions[0], '```python\na = 6\nprint(a * int(input()))\n```\n```input\n7\n```');
    } finally {
      await t.dispose();
    }
  });

  it("keeps the server's text as it came with observationFormat: raw", async () => {
    const t = client({ observationFormat: 'raw' });
    try {
      assert.equal((await t.conductAction('a', 'print(6 * 7)')).observation, '\n```result\n42\n```\n');
    } finally {
      await t.dispose();
    }
  });
});
