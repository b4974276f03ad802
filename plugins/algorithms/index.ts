import { definePlugin } from '../../core/index.js';
import { advantageComponents } from './components/advantage.js';
import { policyLossComponents } from './components/policy-loss.js';
import { klComponents, lossAggComponents } from './components/kl-agg.js';
import { overlongRewardComponents } from './components/overlong.js';

export default definePlugin({
  meta: {
    name: 'agent0/algorithms',
    version: '0.1.0',
    description:
      "Policy-gradient algorithms: advantage estimators (GRPO, Dr. GRPO, RLOO, REINFORCE++, ADPO), policy losses (PPO clip, DAPO, GSPO, ADPO), KL penalties, loss aggregation and DAPO's overlong reward",
  },
  components: [
    ...advantageComponents,
    ...policyLossComponents,
    ...klComponents,
    ...lossAggComponents,
    ...overlongRewardComponents,
  ],
});
