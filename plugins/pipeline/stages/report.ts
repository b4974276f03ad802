import { defineComponent, type OptionsOf, type PipelineStage } from '../../../core/index.js';
import { REPORT } from '../artifacts.js';
import { buildReport } from '../report/build.js';

export const DEFAULT_NOTE = 'This run used the agent0 pipeline and plugins; see the recipe in recipe.resolved.yaml.';

const reportSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    baseline: {
      type: 'string',
      default: 'baseline',
      description: "setup evaluate stage holding the bootstrap model's numbers",
    },
    evaluate: { type: 'string', default: 'evaluate' },
    generate: { type: 'string', default: 'generate' },
    curate: { type: 'string', default: 'curate' },
    title: { type: 'string', default: 'Agent0 run report' },
    note: { type: 'string', default: DEFAULT_NOTE },
  },
} as const;

export type ReportOptions = OptionsOf<typeof reportSchema>;

/** Writes `report.md` with tables and SVG plots from the run's outputs. */
export const reportStage = defineComponent({
  kind: 'stage',
  name: 'report',
  description:
    'writes report.md with tables and SVG plots (accuracy, tool use, self-consistency, difficulty, rewards, clip fractions)',
  options: reportSchema,
  create: (o): PipelineStage => ({
    async run(ctx) {
      await buildReport(ctx.runDir, o);
      ctx.log.info(`report: ${ctx.runDir.path(REPORT)}`);
      return { summary: { report: REPORT } };
    },
  }),
});
