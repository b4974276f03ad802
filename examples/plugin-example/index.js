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
  meta: { name: 'agent0-plugin-example', version: '0.1.0', description: 'calculator tool and length-penalty reward' },
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
