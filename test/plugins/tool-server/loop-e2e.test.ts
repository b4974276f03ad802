import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createRegistry,
  DefaultCliEnv,
  Logger,
  type Plugin,
  type Session,
  type Tool,
  type Trajectory,
} from '../../../core/index.js';
import toolServerPlugin from '../../../plugins/tool-server/index.js';
import { startToolServer, type ToolServerHandle } from '../../../plugins/tool-server/server.js';
import { charTokenizer, PY, ScriptedEngine } from '../agent-loop/scripted.js';

/**
 * The agent loop driving remote-tools, which sends each call to agent0's tool server, which runs it
 * on stateful python tools in two workers: the whole path a distributed rollout takes.
 */
describe('agent loop -> remote-tools -> tool-server -> python (end to end)', function () {
  this.timeout(60_000);
  let server: ToolServerHandle | undefined;
  let session: Session | undefined;
  const served: Tool[] = [];

  before(async function () {
    let agentLoop: Plugin;
    let python: Plugin;
    try {
      execFileSync('python3', ['-c', 'pass']);
      agentLoop = (await import('../../../plugins/agent-loop/index.js')).default;
      python = (await import('../../../plugins/python-sandbox/index.js')).default;
    } catch {
      this.skip();
      return;
    }
    const builtins = [agentLoop, python, toolServerPlugin];
    const env = new DefaultCliEnv(await createRegistry(builtins), {
      builtins,
      log: new Logger('test', 'error'),
      stdout: () => {},
      stderr: () => {},
    });
    for (let w = 0; w < 2; w++)
      served.push(await env.createComponent('tool', 'python', { stateful: true, workers: 1, preload: ['math'] }));
    server = await startToolServer([[served[0]], [served[1]]], {
      host: '127.0.0.1',
      port: 0,
      maxConcurrency: 8,
      requestTimeoutMs: 30_000,
      doneIfInvalid: false,
      idleTrajectoryMs: 0,
      maxBodyBytes: 1 << 20,
    });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-remote-loop-'));
    const file = path.join(dir, 'r.yaml');
    await fs.writeFile(
      file,
      [
        'name: remote-loop',
        'components:',
        `  python: { use: tool/remote-tools, options: { url: '${server.url}', batchWindowMs: 5 } }`,
        '  loop: { use: agent-loop/tool-loop, options: { tools: [python], maxTurns: 3, batchWaitMs: 20 } }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
    session = await env.openSession(await env.loadRecipe(file));
  });
  after(async () => {
    await session?.close();
    await server?.close();
    await Promise.all(served.map((t) => t.dispose?.()));
  });

  it("keeps each trajectory's variables on its worker across turns, shows errors, and frees the state at the end", async () => {
    const loop = await session!.get('loop', 'agent-loop');
    const engine = new ScriptedEngine({
      'Problem: A': [PY('x = 6\nprint(x)'), PY('print(x * 7)'), 'The answer is \\boxed{42}.'],
      'Problem: B': [PY('x = 100\nprint(x)'), PY('print(x + 1)'), 'The answer is \\boxed{101}.'],
      'Problem: C': [PY('print(1 / 0)'), 'I give up.'],
    });
    const out = await loop.run(
      engine,
      ['Problem: A', 'Problem: B', 'Problem: C'].map((p, i) => ({
        id: `r${i}`,
        groupId: `g${i}`,
        promptIds: charTokenizer.encode(`${p}\n`),
      })),
      { maxNewTokens: 1000, temperature: 0 },
    );
    const [a, b, c] = out as [Trajectory, Trajectory, Trajectory];
    assert.equal(
      a.text,
      'I will use python.\n```python\nx = 6\nprint(x)\n```\n```output\n6\n```\nI will use python.\n```python\nprint(x * 7)\n```\n```output\n42\n```\nThe answer is \\boxed{42}.',
    );
    assert.match(b.text, /```output\n100\n```\n[\s\S]*```output\n101\n```\nThe answer is/);
    assert.match(c.text, /ZeroDivisionError: division by zero\n```\nI give up\.$/);
    assert.equal(a.toolCalls, 2);
    const m = (await (await fetch(`${server!.url}/metrics`)).json()) as any;
    assert.equal(m.actions, 5);
    assert.deepEqual(m.trajectoriesPerWorker, [0, 0], 'the loop finished every trajectory, freeing its state');
    assert.equal(m.finishes, 3);
    assert.ok(m.requests < 5 + 3, `batched: ${m.requests} requests for 5 calls and 3 finishes`);
  });
});
