import { defineComponent, definePlugin, type Tool, type ToolResult } from '../../../core/index.js';

/**
 * A deterministic stateful tool for the server tests: `<calc>A op B</calc>` with integers or `ans`
 * (the trajectory's previous result, kept per trajectory until finish). `sleep N` answers after N ms,
 * `throw` breaks the Tool contract on purpose, `stop` ends the trajectory.
 */
export class CalcTool implements Tool {
  readonly name: string;
  readonly memory = new Map<string, number>();
  running = 0;
  maxRunning = 0;
  finished: string[] = [];
  calls: string[] = [];

  constructor(name = 'calc') {
    this.name = name;
  }

  parseAction(text: string): { valid: boolean; action?: string } {
    let last: string | undefined;
    for (const m of text.matchAll(/<calc>([\s\S]*?)<\/calc>/g)) last = m[1];
    return last === undefined || last.trim() === '' ? { valid: false } : { valid: true, action: last.trim() };
  }

  async conductAction(trajectoryId: string, action: string): Promise<ToolResult> {
    this.calls.push(`${trajectoryId}:${action}`);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      const sleep = /^sleep (\d+)$/.exec(action);
      if (sleep) {
        await new Promise((r) => setTimeout(r, Number(sleep[1])));
        return { observation: `slept ${sleep[1]}`, done: false, valid: true };
      }
      if (action === 'throw') throw new Error('calc exploded');
      if (action === 'stop') return { observation: 'bye', done: true, valid: true };
      const m = /^(-?\d+|ans)\s*([-+*])\s*(-?\d+|ans)$/.exec(action);
      if (!m) return { observation: `error: cannot parse '${action.slice(0, 40)}'`, done: false, valid: false };
      const val = (s: string) => (s === 'ans' ? (this.memory.get(trajectoryId) ?? 0) : Number(s));
      const a = val(m[1]);
      const b = val(m[3]);
      const r = m[2] === '+' ? a + b : m[2] === '-' ? a - b : a * b;
      this.memory.set(trajectoryId, r);
      return { observation: String(r), done: false, valid: true, info: { status: 'ok' } };
    } finally {
      this.running--;
    }
  }

  async finish(trajectoryId: string): Promise<void> {
    this.finished.push(trajectoryId);
    this.memory.delete(trajectoryId);
  }
}

/** Instances built through the registry, so tests can look inside the ones a server made. */
export const built: CalcTool[] = [];

export const calcPlugin = definePlugin({
  meta: { name: 'test-calc', version: '0.0.0' },
  components: [
    defineComponent({
      kind: 'tool',
      name: 'test-calc',
      description: 'deterministic calculator for tool-server tests',
      options: {
        type: 'object',
        additionalProperties: false,
        properties: { name: { type: 'string', default: 'calc' } },
      },
      create: (o) => {
        const t = new CalcTool(o.name as string);
        built.push(t);
        return t;
      },
    }),
  ],
});
