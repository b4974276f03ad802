// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { DefaultCliEnv, createRegistry, defineComponent, definePlugin, type Policy } from '../../../core/index.js';
import { builtinPlugins, loadBuiltinPlugins } from '../../../plugins/index.js';
import { OpenAIRolloutEngine } from '../../../plugins/openai-engine/engine.js';
import { startServe } from '../../../plugins/serve/public.js';
import { engineOptions } from '../openai-engine/helpers.js';
import { ScriptPolicy, TwoTurnLoop } from './doubles.js';

/** The doubles as components, so `serve --recipe` builds them as it would real ones. */
const doubles = definePlugin({
  meta: { name: 'test/serve-doubles', version: '0.0.0' },
  components: [
    defineComponent({
      kind: 'policy',
      name: 'script',
      description: 'scripted test policy',
      options: { type: 'object', additionalProperties: false, properties: {} },
      create: () => new ScriptPolicy() as unknown as Policy,
    }),
    // Writes a python block on the first turn and reads the tool's output on the next.
    defineComponent({
      kind: 'policy',
      name: 'coder',
      description: 'scripted tool-using test policy',
      options: { type: 'object', additionalProperties: false, properties: {} },
      create: () =>
        new ScriptPolicy((p) =>
          p.includes('```output')
            ? `So the answer is ${/```output\n(\d+)/.exec(p)?.[1] ?? '?'}.`
            : 'Let me compute.\n```python\nprint(6*7)\n```\n```output',
        ) as unknown as Policy,
    }),
    defineComponent({
      kind: 'agent-loop',
      name: 'two-turn',
      description: 'two-turn test loop',
      options: { type: 'object', additionalProperties: false, properties: {} },
      create: () => new TwoTurnLoop(),
    }),
  ],
});

async function cli(): Promise<{ env: DefaultCliEnv; err: string[]; out: string[] }> {
  const plugins = [...builtinPlugins, doubles];
  const err: string[] = [];
  const out: string[] = [];
  const env = new DefaultCliEnv(await createRegistry(plugins), {
    builtins: plugins,
    stderr: (s) => err.push(s),
    stdout: (s) => out.push(s),
  });
  return { env, err, out };
}

describe('agent0 serve (command)', () => {
  let recipe: string;
  before(async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-serve-'));
    recipe = path.join(dir, 'serve.yaml');
    await fs.writeFile(
      recipe,
      [
        'name: serve-test',
        'seed: 1',
        'components:',
        '  executor: { use: policy/script }',
        '  executor_loop: { use: agent-loop/two-turn }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
  });

  it("serves the recipe's policy and agent loop", async () => {
    const { env } = await cli();
    const s = await startServe(['--recipe', recipe, '--port', '0', '--model', 'tiny', '--batch-window-ms', '1'], env);
    try {
      expect(s.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(s.models).to.deep.equal(['tiny', 'tiny:tools']);
      const client = new OpenAI({ baseURL: s.url, apiKey: 'x', maxRetries: 0 });
      const r = await client.completions.create({ model: 'tiny', prompt: 'hi', max_tokens: 4, temperature: 0 });
      expect(r.choices[0]!.text).to.equal('abc ');
      const t = await client.chat.completions.create({
        model: 'tiny:tools',
        messages: [{ role: 'user', content: 'q' }],
        max_tokens: 40,
        temperature: 0,
      });
      expect(t.choices[0]!.message.content).to.equal('abc def STOP ghi jkl.\n[obs]\nabc ');
      expect(s.batcher.stats().requests).to.equal(3);
    } finally {
      await s.close();
    }
  });

  it("tool mode runs the recipe's real tool loop and python tool", async function () {
    this.timeout(60000);
    const dir = path.dirname(recipe);
    const file = path.join(dir, 'tools.yaml');
    await fs.writeFile(
      file,
      [
        'name: serve-tools',
        'seed: 1',
        'components:',
        '  executor: { use: policy/coder }',
        '  python: { use: tool/python, options: { workers: 1, preload: [] } }',
        '  executor_loop: { use: agent-loop/tool-loop, options: { tools: [python], maxTurns: 2 } }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
    const { env } = await cli();
    const s = await startServe(['--recipe', file, '--port', '0', '--model', 'coder'], env);
    try {
      const client = new OpenAI({ baseURL: s.url, apiKey: 'x', maxRetries: 0 });
      const r = await client.completions.create({
        model: 'coder:tools',
        prompt: 'What is 6*7?\n',
        max_tokens: 200,
        temperature: 0,
      });
      const c = r.choices[0]! as OpenAI.CompletionChoice & {
        turns: { role: string; content: string }[];
        agent0: Record<string, unknown>;
      };
      expect(c.turns.map((t) => t.role)).to.deep.equal(['assistant', 'tool', 'assistant']);
      expect(c.turns[0]!.content).to.equal('Let me compute.\n```python\nprint(6*7)\n```\n```output');
      expect(c.turns[1]!.content).to.equal('\n42\n```\n');
      expect(c.turns[2]!.content).to.equal('So the answer is 42.');
      expect(c.text).to.equal(c.turns.map((t) => t.content).join(''));
      expect(c.agent0).to.deep.include({ tool_calls: 1, tool_errors: 0 });

      // The same loop, unchanged, over rollout/openai -> this server: the same trajectories as on the policy.
      const session = await env.openSession(await env.loadRecipe(file));
      const loop = await session.get('executor_loop', 'agent-loop');
      const local = await session.get('executor', 'policy');
      const remote = new OpenAIRolloutEngine(engineOptions({ urls: [s.url], model: 'coder' }), local.tokenizer);
      const reqs = [0, 1, 2].map((i) => ({
        id: `t${i}`,
        groupId: 'g',
        promptIds: local.tokenizer.encode(`What is 6*7? (${i})\n`),
      }));
      const sampling = { maxNewTokens: 200, temperature: 0 };
      const [viaServer, inProcess] = [await loop.run(remote, reqs, sampling), await loop.run(local, reqs, sampling)];
      // Everything but wall-clock tool timings.
      const strip = (ts: typeof viaServer) => ts.map((t) => ({ ...t, metrics: { ...t.metrics, toolMs: 0 } }));
      expect(strip(viaServer)).to.deep.equal(strip(inProcess));
      expect(viaServer.map((t) => t.toolCalls)).to.deep.equal([1, 1, 1]);
      await remote.dispose();
      await session.close();
    } finally {
      await s.close();
    }
  });

  it('wants the bearer token named by --api-key-env', async () => {
    const { env } = await cli();
    process.env.A0_SERVE_TEST_KEY = 'sk-serve';
    const s = await startServe(
      ['--recipe', recipe, '--port', '0', '--model', 'tiny', '--api-key-env', 'A0_SERVE_TEST_KEY'],
      env,
    );
    try {
      const ok = new OpenAI({ baseURL: s.url, apiKey: 'sk-serve', maxRetries: 0 });
      expect(
        (await ok.completions.create({ model: 'tiny', prompt: 'hi', max_tokens: 2, temperature: 0 })).choices[0]!.text,
      ).to.equal('ab');
      const bad = new OpenAI({ baseURL: s.url, apiKey: 'sk-wrong', maxRetries: 0 });
      const e = await bad.models.list().then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).to.be.instanceOf(OpenAI.AuthenticationError);
      expect((await fetch(s.url.replace(/\/v1$/, '/health'))).status).to.equal(200);
    } finally {
      delete process.env.A0_SERVE_TEST_KEY;
      await s.close();
    }
    const none = await startServe(['--recipe', recipe, '--port', '0', '--api-key-env', 'A0_SERVE_UNSET'], env).then(
      () => null,
      (x: Error) => x.message,
    );
    expect(none).to.match(/--api-key-env names 'A0_SERVE_UNSET', which is not set/);
  });

  it('refuses a non-loopback --host without --api-key-env, before building the policy', async () => {
    const { env } = await cli();
    for (const host of ['0.0.0.0', '::', '192.168.1.5']) {
      const msg = await startServe(['--recipe', recipe, '--port', '0', '--host', host], env).then(
        async (s) => {
          await s.close();
          return null;
        },
        (x: Error) => x.message,
      );
      expect(msg, host).to.equal(
        `--host ${host} is not a loopback address: without a token anyone who can reach it, and any web page through DNS rebinding, could use this server; set --api-key-env VAR (a bearer token) or listen on 127.0.0.1`,
      );
    }
    process.env.A0_SERVE_TEST_KEY = 'sk-serve';
    try {
      const s = await startServe(
        ['--recipe', recipe, '--port', '0', '--host', '0.0.0.0', '--api-key-env', 'A0_SERVE_TEST_KEY'],
        env,
      );
      await s.close();
    } finally {
      delete process.env.A0_SERVE_TEST_KEY;
    }
  });

  it('explains bad arguments with the usage line', async () => {
    const { env, err } = await cli();
    const serve = (await loadBuiltinPlugins()).flatMap((p) => p.commands ?? []).find((c) => c.name === 'serve')!;
    expect(await serve.run(['--port', '8000'], env)).to.equal(2);
    expect(err.join('')).to.match(/give --checkpoint DIR, --recipe R, or both\nusage: agent0 serve --checkpoint DIR/);
    expect(await serve.run(['--recipe', recipe, '--port', 'eighty'], env)).to.equal(2);
    expect(err.join('')).to.match(/--port: expected an integer >= 0, found 'eighty'/);
    expect(await serve.run(['--recipe', recipe, '--max-request-samples', '0'], env)).to.equal(2);
    expect(err.join('')).to.match(/--max-request-samples: expected an integer >= 1, found '0'/);
    expect(await serve.run(['--recipe', recipe, '--bogus'], env)).to.equal(2);
    expect(err.join('')).to.match(/Unknown option '--bogus'/);
  });
});
