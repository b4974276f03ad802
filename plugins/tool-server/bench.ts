import { parseArgs } from 'node:util';
import type { CliCommand, CliOptions, ParsedAction, Tool, ToolResult } from '../../core/index.js';
import { LatencyWindow } from './metrics.js';
import { RemoteTools, type RemoteToolsOptions } from './remote.js';
import { startToolServer } from './server.js';

/** Answers with the action's length after `serviceMs`: the cost of the HTTP path, not of a tool. */
class EchoTool implements Tool {
  readonly name = 'echo';
  constructor(private readonly serviceMs: number) {}
  parseAction(text: string): ParsedAction {
    const m = /```python\n([\s\S]*?)\n```/.exec(text);
    return m ? { valid: true, action: m[1] } : { valid: false };
  }
  async conductAction(_id: string, action: string): Promise<ToolResult> {
    if (this.serviceMs > 0) await new Promise((r) => setTimeout(r, this.serviceMs));
    return { observation: String(action.length), done: false, valid: true };
  }
  async finish(): Promise<void> {}
}

export interface ModeResult {
  p50Ms: number;
  p95Ms: number;
  callsPerSec: number;
  requests: number;
}

/** `trajectories` concurrent loops of `turns` sequential calls each, through `tool`. */
async function drive(tool: Tool, trajectories: number, turns: number): Promise<Omit<ModeResult, 'requests'>> {
  const lat = new LatencyWindow(trajectories * turns);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: trajectories }, async (_, i) => {
      for (let k = 0; k < turns; k++) {
        const s = performance.now();
        const r = await tool.conductAction(`b${i}`, `print(${i} + ${k})`);
        if (!r.valid) throw new Error(`bench call failed: ${r.observation}`);
        lat.add(performance.now() - s);
      }
      await tool.finish(`b${i}`);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const s = lat.summary();
  return { p50Ms: s.p50Ms, p95Ms: s.p95Ms, callsPerSec: Math.round((trajectories * turns) / secs) };
}

export async function runToolServerBench(o: { trajectories: number; turns: number; serviceMs: number }) {
  const echo = new EchoTool(o.serviceMs);
  const server = await startToolServer([[echo]], {
    host: '127.0.0.1',
    port: 0,
    maxConcurrency: 1024,
    requestTimeoutMs: 60_000,
    doneIfInvalid: false,
    idleTrajectoryMs: 0,
    maxBodyBytes: 64 << 20,
  });
  const base: RemoteToolsOptions = {
    name: 'echo',
    url: server.url,
    fences: ['python'],
    pattern: '',
    actionTemplate: '```python\n{action}\n```',
    timeoutMs: 60_000,
    connectTimeoutMs: 5000,
    retries: 0,
    backoffBaseMs: 0,
    backoffMaxMs: 0,
    batchWindowMs: 2,
    maxBatchSize: 256,
    connections: 32,
    keepAliveMs: 30_000,
  };
  try {
    await drive(echo, o.trajectories, 1);
    const direct = { ...(await drive(echo, o.trajectories, o.turns)), requests: 0 };
    const modes: Record<string, ModeResult> = { direct };
    for (const [name, window] of [
      ['http, batched (2 ms)', 2],
      ['http, one call per request', 0],
    ] as const) {
      const remote = new RemoteTools({ ...base, batchWindowMs: window });
      try {
        // one untimed round opens the connections and warms the JIT
        await drive(remote, o.trajectories, 1);
        const warm = remote.requestsSent;
        const r = await drive(remote, o.trajectories, o.turns);
        modes[name] = { ...r, requests: remote.requestsSent - warm };
      } finally {
        await remote.dispose();
      }
    }
    return { ...o, modes };
  } finally {
    await server.close();
  }
}

const BENCH_TOOL_SERVER_OPTIONS = {
  trajectories: { type: 'string', default: '64', value: 'N', description: 'concurrent trajectories' },
  turns: { type: 'string', default: '10', value: 'K', description: 'tool calls per trajectory' },
  'service-ms': { type: 'string', default: '0', value: 'MS', description: 'simulated work per tool call' },
  json: { type: 'boolean', description: 'print the result as JSON' },
} satisfies CliOptions;

export const benchToolServerCommand: CliCommand = {
  name: 'bench tool-server',
  summary: 'tool-server round trip: calls/s and latency through HTTP, batched and unbatched, against in-process calls',
  usage: 'agent0 bench tool-server [--trajectories N] [--turns K] [--service-ms MS] [--json]',
  options: BENCH_TOOL_SERVER_OPTIONS,
  async run(args, env) {
    let values;
    try {
      ({ values } = parseArgs({ args, options: BENCH_TOOL_SERVER_OPTIONS }));
    } catch (e) {
      env.stderr(`${(e as Error).message}\nusage: ${this.usage}`);
      return 2;
    }
    const trajectories = Number(values.trajectories);
    const turns = Number(values.turns);
    const serviceMs = Number(values['service-ms']);
    if (!Number.isInteger(trajectories) || trajectories < 1) {
      env.stderr('--trajectories: expected an integer >= 1');
      return 2;
    }
    if (!Number.isInteger(turns) || turns < 1) {
      env.stderr('--turns: expected an integer >= 1');
      return 2;
    }
    if (!Number.isFinite(serviceMs) || serviceMs < 0) {
      env.stderr('--service-ms: expected a number >= 0');
      return 2;
    }
    const res = await runToolServerBench({ trajectories, turns, serviceMs });
    if (values.json) {
      env.stdout(JSON.stringify(res));
      return 0;
    }
    const lines = [
      `tool-server round trip (${trajectories} concurrent trajectories x ${turns} calls, tool service time ${serviceMs} ms)`,
    ];
    for (const [name, m] of Object.entries(res.modes)) {
      lines.push(
        `${name.padEnd(28)} p50 ${m.p50Ms.toFixed(2).padStart(8)} ms   p95 ${m.p95Ms.toFixed(2).padStart(8)} ms   ${String(m.callsPerSec).padStart(7)} calls/s   ${m.requests} requests`,
      );
    }
    env.stdout(lines.join('\n'));
    return 0;
  },
};
