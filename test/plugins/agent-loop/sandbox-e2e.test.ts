// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultCliEnv, createRegistry, type AgentLoop, type Session, type Trajectory } from '../../../core/index.js';
import agentLoopPlugin from '../../../plugins/agent-loop/index.js';
import pythonSandboxPlugin from '../../../plugins/python-sandbox/index.js';
import { SESSION_LOST_NOTE } from '../../../plugins/python-sandbox/tool.js';
import { charTokenizer, PY, ScriptedEngine } from './scripted.js';

const observations = (t: Trajectory): string[] => {
  const out: string[] = [];
  let cur = '';
  t.responseMask.forEach((m, i) => {
    if (m === 0) cur += charTokenizer.decode([t.responseIds[i] as number]);
    else if (cur) {
      out.push(cur);
      cur = '';
    }
  });
  if (cur) out.push(cur);
  return out;
};

describe('agent-loop/tool-loop end to end with the real python sandbox (from a recipe)', function () {
  this.timeout(60_000);
  let session: Session;
  let loop: AgentLoop;

  before(async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-loop-'));
    const file = path.join(dir, 'r.yaml');
    await fs.writeFile(
      file,
      [
        'name: loop-e2e',
        'seed: 1',
        'components:',
        // A worker per trajectory that calls the tool: under wasm isolation (no bubblewrap) a program
        // killed at its deadline ends every session of its worker (docs/sandbox.md), so the slow
        // call must not share one with the stateful trajectory whose variables are checked.
        '  python: { use: tool/python, options: { workers: 4, timeoutSeconds: 1, stateful: true } }',
        '  executor_loop: { use: agent-loop/tool-loop, options: { tools: [python], maxTurns: 3, maxObsLength: 40, obsTruncate: left, batchWaitMs: 50 } }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
    const builtins = [agentLoopPlugin, pythonSandboxPlugin];
    const env = new DefaultCliEnv(await createRegistry(builtins), { builtins, stdout: () => {}, stderr: () => {} });
    session = await env.openSession(await env.loadRecipe(file));
    loop = await session.get('executor_loop', 'agent-loop');
  });
  after(async () => {
    await session?.close();
  });

  it('runs tool turns through the sandbox: exact text, masks, stop reasons, state per trajectory', async () => {
    const engine = new ScriptedEngine({
      'Problem: 12 * 34 + 5': [PY('print(12 * 34 + 5)'), 'The answer is \\boxed{413}.'],
      'Problem: 1 / 0': [PY('x = 7\nprint(1 / 0)'), PY('print(x * 6)'), 'The answer is \\boxed{42}.'],
      'Problem: slow': [PY('import time\ntime.sleep(30)'), 'I give up.'],
      'Problem: long': [PY("print('\\n'.join(str(i) for i in range(100)))"), 'done'],
      'Problem: direct': ['The answer is \\boxed{4}.'],
    });
    const prompts = ['Problem: 12 * 34 + 5', 'Problem: 1 / 0', 'Problem: slow', 'Problem: long', 'Problem: direct'];
    const t0 = performance.now();
    const out = await loop.run(
      engine,
      prompts.map((p, i) => ({ id: `r${i}`, groupId: `g${i}`, promptIds: charTokenizer.encode(`${p}\nSolution:\n`) })),
      { maxNewTokens: 2000, temperature: 0 },
    );
    const [arith, err, slow, long, direct] = out as [Trajectory, Trajectory, Trajectory, Trajectory, Trajectory];
    expect(performance.now() - t0).to.be.lessThan(15_000);

    expect(arith.text).to.equal(
      'I will use python.\n```python\nprint(12 * 34 + 5)\n```\n```output\n413\n```\nThe answer is \\boxed{413}.',
    );
    expect(observations(arith)).to.deep.equal(['\n413\n```\n']);
    expect(arith).to.include({ stopReason: 'eos', turns: 2, toolCalls: 1, toolErrors: 0 });

    // The failing call shows the traceback's end; the variable set before the error survives (stateful).
    const [tb, fortyTwo] = observations(err) as [string, string];
    expect(tb).to.match(/^\n[\s\S]*ZeroDivisionError: division by zero\n```\n$/);
    expect(tb.length).to.be.at.most(1 + 40 + 5);
    expect(fortyTwo).to.equal('\n42\n```\n');
    expect(err).to.include({ stopReason: 'eos', turns: 3, toolCalls: 2, toolErrors: 1 });

    // Stateful: the kill took the session with it, and the observation says so; cut to its last 40 characters.
    const slowObs = `TimeoutError: the program ran longer than 1 s and was killed\n${SESSION_LOST_NOTE}`;
    expect(observations(slow)).to.deep.equal([`\n${slowObs.slice(-40)}\n\`\`\`\n`]);
    expect(slow).to.include({ stopReason: 'eos', toolCalls: 1, toolErrors: 1 });

    // 100 lines of output, cut to its last 40 tokens (characters here) by obsTruncate: left.
    const full = Array.from({ length: 100 }, (_, i) => String(i)).join('\n');
    expect(observations(long)).to.deep.equal([`\n${full.slice(-40)}\n\`\`\`\n`]);
    expect(long.metrics.obsTruncated).to.equal(1);

    expect(direct).to.include({ stopReason: 'eos', turns: 1, toolCalls: 0, text: 'The answer is \\boxed{4}.' });
    for (const t of out) {
      expect(charTokenizer.decode(t.responseIds)).to.equal(t.text);
      t.responseMask.forEach((m, i) => {
        if (m === 0) expect(t.logProbs[i]).to.equal(0);
      });
    }
    // Round one sent all five prompts in a single engine call.
    expect(engine.calls[0]!.prompts).to.have.length(5);
    // The slow trajectory's timeout did not hold back the others: their second turn came before it ended.
    const secondRound = engine.calls.find(
      (c) => c.prompts.some((p) => p.startsWith('Problem: 12')) && c !== engine.calls[0],
    )!;
    expect(secondRound.prompts.some((p) => p.startsWith('Problem: slow'))).to.equal(false);
  });

  it('the loop frees per-trajectory interpreter state when trajectories end', async () => {
    const tool = (await session.get('python', 'tool')) as unknown as { sandbox: { activeSessions: number } };
    expect(tool.sandbox.activeSessions).to.equal(0);
  });
});
