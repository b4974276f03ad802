import { definePlugin } from '../../core/index.js';
import { curriculumTrain } from './stages/curriculum-train.js';
import { generateStage } from './stages/generate.js';
import { curateStage } from './stages/curate.js';
import { executorTrain } from './stages/executor-train.js';
import { evaluateStage } from './stages/evaluate.js';
import { reportStage } from './stages/report.js';
import { evalCommand, reportCommand } from './commands.js';
import { ablateCommand } from './ablation/command.js';

export default definePlugin({
  meta: {
    name: 'agent0/pipeline',
    version: '0.1.0',
    description: 'The Agent0 co-evolution stages: curriculum-train, generate, curate, executor-train, evaluate, report',
  },
  components: [curriculumTrain, generateStage, curateStage, executorTrain, evaluateStage, reportStage],
  commands: [reportCommand, evalCommand, ablateCommand],
});
