import { defineComponent, definePlugin } from 'agent0';
import { calculate } from './calculator.js';

/** A tool: the model writes <calc>EXPR</calc>; the observation is the value. Counts calls per trajectory. */
class CalculatorTool {
  name = 'calculator';
  /** @type {Map<string, number>} */
  calls = new Map();
  constructor(maxCalls) { this.maxCalls = maxCalls; }
  parseAction(text) {
    const m = /<calc>([\s\S]*?)<\/calc>\s*$/.exec(text);
    return m ? { valid: true, action: m[1].trim() } : { valid: false };
  }
  async conductAction(trajectoryId, action) {
    const n = (this.calls.get(trajectoryId) ?? 0) + 1;
    this.calls.set(trajectoryId, n);
    if (n > this.maxCalls) return { observation: 'error: too many calculator calls', done: true, valid: false };
    try {
      return { observation: String(calculate(action)), done: false, valid: true };
    } catch (e) {
      return { observation: `error: ${e.message}`, done: false, valid: false };
    }
  }
  async finish(trajectoryId) { this.calls.delete(trajectoryId); }
}

export default definePlugin({
  meta: { name: 'agent0-plugin-example', version: '0.1.0', description: 'calculator tool, length-penalty reward and the `calc` command' },
  // `agent0 --plugin agent0-plugin-example calc '2*(3+4)'` (or AGENT0_PLUGINS, or package.json's agent0.plugins)
  commands: [
    {
      name: 'calc',
      summary: 'evaluate an arithmetic expression as tool/calculator does',
      usage: 'agent0 calc EXPR',
      options: {},
      details: 'EXPR: numbers, + - * / and parentheses; quote it for the shell',
      async run(args, env) {
        if (args.length !== 1) {
          env.stderr(`usage: ${this.usage}`);
          return 2;
        }
        try {
          env.stdout(String(calculate(args[0])));
          return 0;
        } catch (e) {
          env.stderr(`calc: ${e.message}`);
          return 1;
        }
      },
    },
  ],
  components: [
    defineComponent({
      kind: 'tool',
      name: 'calculator',
      description: 'evaluates <calc>EXPR</calc> arithmetic (no eval)',
      options: {
        type: 'object',
        additionalProperties: false,
        properties: { maxCalls: { type: 'integer', minimum: 1, default: 8, description: 'calls per trajectory before the tool refuses' } },
      },
      create: (o) => new CalculatorTool(o.maxCalls),
    }),
    defineComponent({
      kind: 'reward',
      name: 'length-penalty',
      description: 'reward = -coef * max(0, characters - budget)',
      options: {
        type: 'object',
        additionalProperties: false,
        required: ['budget'],
        properties: {
          budget: { type: 'integer', minimum: 0, description: 'characters allowed for free' },
          coef: { type: 'number', minimum: 0, default: 0.01 },
        },
      },
      create: (o) => ({
        async score(batch) {
          return batch.map((s) => {
            const over = Math.max(0, s.response.length - o.budget);
            return { reward: -o.coef * over, parts: { overBudget: over } };
          });
        },
      }),
    }),
  ],
});
