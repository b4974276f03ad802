import * as tf from '@tensorflow/tfjs-core';
import { defineComponent, type OptionsOf, type PipelineStage, type StageContext, type StageResult } from 'agent0';

/** Written once, in the schema: the type is inferred from it. */
export type DrillOptions = OptionsOf<typeof drillSchema>;

export interface DrillRow {
  group: string;
  text: string;
  observation: string | null;
  reward: number | null;
  advantage: number | null;
}

/**
 * A stage that needs no model: runs canned responses through the recipe's tool, scores them with its
 * reward and turns the rewards into advantages, as a training stage would for sampled responses.
 * Writes `drill.json` and one metrics row.
 */
export class CalcDrill implements PipelineStage {
  constructor(private readonly o: DrillOptions) {}

  async run(ctx: StageContext): Promise<StageResult> {
    const tool = await ctx.get(this.o.tool, 'tool');
    const reward = await ctx.get(this.o.reward, 'reward');
    const advantage = await ctx.get(this.o.advantage, 'advantage');
    const rows: DrillRow[] = [];
    const responses: string[] = [];
    for (const [i, r] of this.o.responses.entries()) {
      const id = `${ctx.key}#${i}`;
      const action = tool.parseAction(r.text);
      const observation = action.valid ? (await tool.conductAction(id, action.action as string)).observation : null;
      await tool.finish(id);
      rows.push({ group: r.group, text: r.text, observation, reward: null, advantage: null });
      responses.push(observation === null ? r.text : `${r.text}\n${observation}`);
    }
    const scored = await reward.score(
      rows.map((r, i) => ({ response: responses[i] as string, task: { id: r.group, problem: '' } })),
    );
    scored.forEach((s, i) => {
      (rows[i] as DrillRow).reward = s.reward;
    });
    // a null reward drops the sample, as in training
    const kept = rows.filter((r) => r.reward !== null);
    if (kept.length > 0) {
      // agent0 may run tfjs on its wasm backend, which initialises asynchronously
      await tf.ready();
      const mask = tf.ones([kept.length, 1]) as tf.Tensor2D;
      const adv = advantage.compute({
        rewards: Float32Array.from(kept, (r) => r.reward as number),
        groupIds: kept.map((r) => r.group),
        responseMask: mask,
        fields: {},
      });
      const values = await adv.data();
      kept.forEach((r, i) => {
        r.advantage = values[i] as number;
      });
      tf.dispose([mask, adv]);
    }
    await ctx.artifacts.writeJson('drill.json', rows);
    const meanReward = kept.reduce((a, r) => a + (r.reward as number), 0) / Math.max(1, kept.length);
    await ctx.metrics.log({ stage: ctx.name, iteration: ctx.iteration, meanReward, kept: kept.length });
    return { summary: { meanReward, kept: kept.length } };
  }
}

export const drillSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tool: { type: 'string', 'x-ref': 'tool', default: 'calc', description: 'the tool instance' },
    reward: { type: 'string', 'x-ref': 'reward', default: 'penalty', description: 'the reward instance' },
    advantage: { type: 'string', 'x-ref': 'advantage', default: 'advantage', description: 'the advantage instance' },
    responses: {
      type: 'array',
      description: 'responses to score; the same group means the same prompt',
      default: [
        { group: 'a', text: 'so <calc>2*(3+4)</calc>' },
        { group: 'a', text: 'I think the answer is fourteen, after a long detour' },
      ],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['group', 'text'],
        properties: { group: { type: 'string' }, text: { type: 'string' } },
      },
    },
  },
} as const;

export const calcDrill = defineComponent({
  kind: 'stage',
  name: 'calc-drill',
  description: 'scores canned responses with a tool, a reward and an advantage estimator (no model)',
  options: drillSchema,
  create: (o) => new CalcDrill(o),
});
