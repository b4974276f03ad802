import { parseArgs } from 'node:util';
import type { CliCommand, CliEnv, CliOptions, Tool } from 'agent0';

const options = {
  recipe: {
    type: 'string',
    value: 'R',
    description: "use the recipe's calculator instance (its options) instead of the defaults",
  },
  tool: {
    type: 'string',
    value: 'NAME',
    description: 'which tool/calculator instance of the recipe (default: the first)',
  },
} satisfies CliOptions;

/** The recipe's calculator (or one with default options) and a way to release it. */
async function calculator(
  env: CliEnv,
  recipeFile: string | undefined,
  name: string | undefined,
): Promise<{ tool: Tool; close: () => Promise<void> }> {
  if (!recipeFile) {
    const tool = await env.createComponent('tool', 'calculator');
    return { tool, close: async () => {} };
  }
  const recipe = await env.loadRecipe(recipeFile);
  const pick = name ?? Object.keys(recipe.components).find((k) => recipe.components[k]?.use === 'tool/calculator');
  if (!pick) throw new Error(`${recipeFile} has no tool/calculator instance`);
  const session = await env.openSession(recipe);
  return { tool: await session.get(pick, 'tool'), close: () => session.close() };
}

/** `agent0 calc EXPR`: evaluates EXPR as the model's `<calc>` action would be. */
export const calcCommand: CliCommand = {
  name: 'calc',
  summary: 'evaluate an arithmetic expression as tool/calculator does',
  usage: 'agent0 calc EXPR [--recipe R] [--tool NAME]',
  options,
  details: 'EXPR: numbers, + - * / and parentheses; quote it for the shell',
  async run(args, env) {
    const { positionals, values } = parseArgs({ args, options, allowPositionals: true });
    if (positionals.length !== 1) {
      env.stderr(`usage: ${this.usage}`);
      return 2;
    }
    const { tool, close } = await calculator(env, values.recipe, values.tool);
    try {
      const r = await tool.conductAction('cli', positionals[0] as string);
      if (!r.valid) {
        env.stderr(`calc: ${r.observation.replace(/^error: /, '')}`);
        return 1;
      }
      env.stdout(r.observation);
      return 0;
    } finally {
      await tool.finish('cli');
      await close();
    }
  },
};
