import { definePlugin } from '../../core/index.js';
import { arithTaskSource } from './task-source.js';
import { bootstrapStage } from './bootstrap.js';

export default definePlugin({
  meta: {
    name: 'agent0/arith-world',
    version: '0.1.0',
    description:
      'The embedded arithmetic world: generated problems with exact answers, its text formats, and the bootstrap pretraining stage',
  },
  components: [arithTaskSource, bootstrapStage],
});
