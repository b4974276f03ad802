import type { OptionsOf } from '../../core/index.js';

const nullableTokens = (description: string) =>
  ({ type: ['integer', 'null'], minimum: 1, default: null, description }) as const;

/** Options of `agent-loop/tool-loop`. */
export const toolLoopSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tools'],
  properties: {
    tools: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      description:
        'tool instance names (components of kind tool); the first whose parseAction accepts the turn runs it',
    },
    stop: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      default: ['```output'],
      description: 'action stop strings (kept in the text)',
    },
    observationFormat: {
      type: 'string',
      default: '\n{output}\n```\n',
      description: 'observation template; {output} is the tool output',
    },
    maxTurns: {
      type: 'integer',
      minimum: 0,
      default: 4,
      description: 'tool calls per trajectory; asking for one more ends it (max_turns)',
    },
    maxActionLength: nullableTokens('tokens per model turn (null: only the response budget)'),
    maxResponseLength: nullableTokens(
      'tokens of the whole response, model + observation (null: the sampling maxNewTokens)',
    ),
    maxObsLength: nullableTokens(
      "tokens of one tool output before the template (null: no cap; the tool's own character cap still applies)",
    ),
    obsTruncate: {
      enum: ['left', 'right', 'middle'],
      default: 'middle',
      description:
        'which part of a long tool output is cut: left (keep the end), right (keep the start), middle (keep both ends)',
    },
    concurrency: {
      type: 'integer',
      minimum: 1,
      maximum: 1024,
      default: 8,
      description: 'tool calls in flight at once across trajectories',
    },
    toolTimeoutSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 120,
      description: 'a tool call taking longer ends its trajectory with tool_error',
    },
    onInvalidAction: {
      enum: ['stop', 'observe'],
      default: 'stop',
      description:
        'an action stop without a valid action: stop (invalid_action) or append invalidActionMessage and go on',
    },
    invalidActionMessage: {
      type: 'string',
      default: 'Error: no complete ```python code block was found before ```output.',
      description: 'observation for onInvalidAction: observe',
    },
    batchWaitMs: {
      type: 'integer',
      minimum: 0,
      default: 200,
      description:
        'a generation round waits for in-flight tool calls while they keep finishing, until none has for this long (0: never waits)',
    },
  },
} as const;

/** What the loop itself reads (the tool instances are resolved from `tools` before). */
export type ToolLoopOptions = Omit<OptionsOf<typeof toolLoopSchema>, 'tools'>;
