/** Co-evolution iterations a recipe may ask for (the paper runs 3; long runs a few hundred). */
export const MAX_ITERATIONS = 10_000;

/** JSON schema of a recipe's own structure (component options are checked by each component's schema). */
const stageSpec = {
  type: 'object',
  required: ['use'],
  additionalProperties: false,
  properties: {
    use: { type: 'string', pattern: '^[a-z][a-z0-9-]*/[A-Za-z0-9_.+-]+$' },
    name: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
    options: { type: 'object', default: {} },
  },
};

export const recipeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['components', 'pipeline'],
  properties: {
    // the default run folder is runs/<name>: one safe path segment, never `..` or a separator
    name: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.+-]*$', maxLength: 100, default: 'run' },
    description: { type: 'string' },
    seed: { type: 'integer', default: 0 },
    plugins: { type: 'array', items: { type: 'string' }, default: [] },
    components: {
      type: 'object',
      default: {},
      propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_-]*$' },
      additionalProperties: {
        type: 'object',
        required: ['use'],
        additionalProperties: false,
        properties: {
          use: { type: 'string', pattern: '^[a-z][a-z0-9-]*/[A-Za-z0-9_.+-]+$' },
          options: { type: 'object', default: {} },
        },
      },
    },
    pipeline: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // the plan lists every stage execution up front: 1e12 iterations would never finish planning
        iterations: { type: 'integer', minimum: 0, maximum: MAX_ITERATIONS, default: 1 },
        setup: { type: 'array', items: stageSpec, default: [] },
        loop: { type: 'array', items: stageSpec, default: [] },
        teardown: { type: 'array', items: stageSpec, default: [] },
      },
    },
  },
} as const;
