import { definePlugin } from '../../core/index.js';
import { curriculumReward } from './components/curriculum.js';
import { outcomeReward } from './components/outcome.js';
import { sumReward } from './components/sum.js';
import { toolUseReward } from './components/tool-use.js';

export default definePlugin({
  meta: {
    name: 'agent0/rewards',
    version: '0.1.0',
    description:
      "Reward functions: verifier-checked outcome, tool use, Agent0's curriculum reward (uncertainty, tool, BLEU-cluster repetition), weighted sums",
  },
  components: [outcomeReward, toolUseReward, curriculumReward, sumReward],
});
