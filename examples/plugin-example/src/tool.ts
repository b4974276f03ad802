import { defineComponent, type OptionsOf, type ParsedAction, type Tool, type ToolResult } from 'agent0';
import { calculate } from './calculator.js';

/** A tool: the model writes <calc>EXPR</calc> at the end of its turn; the observation is the value. */
export class CalculatorTool implements Tool {
  readonly name = 'calculator';
  /** Calls so far, per trajectory (the state `finish` frees). */
  private readonly calls = new Map<string, number>();

  constructor(private readonly maxCalls: number) {}

  parseAction(text: string): ParsedAction {
    const m = /<calc>([\s\S]*?)<\/calc>\s*$/.exec(text);
    return m ? { valid: true, action: (m[1] as string).trim() } : { valid: false };
  }

  async conductAction(trajectoryId: string, action: string): Promise<ToolResult> {
    const n = (this.calls.get(trajectoryId) ?? 0) + 1;
    this.calls.set(trajectoryId, n);
    if (n > this.maxCalls) return { observation: 'error: too many calculator calls', done: true, valid: false };
    try {
      return { observation: String(calculate(action)), done: false, valid: true };
    } catch (e) {
      // bad model input is an observation, never an exception
      return { observation: `error: ${(e as Error).message}`, done: false, valid: false };
    }
  }

  async finish(trajectoryId: string): Promise<void> {
    this.calls.delete(trajectoryId);
  }
}

/** Written once, in the schema: the type is inferred from it. */
export type CalculatorOptions = OptionsOf<typeof calculatorSchema>;

export const calculatorSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxCalls: { type: 'integer', minimum: 1, default: 8, description: 'calls per trajectory before the tool refuses' },
  },
} as const;

export const calculatorTool = defineComponent({
  kind: 'tool',
  name: 'calculator',
  description: 'evaluates <calc>EXPR</calc> arithmetic (no eval)',
  options: calculatorSchema,
  create: (o) => new CalculatorTool(o.maxCalls),
});
