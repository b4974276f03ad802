import { definePlugin } from 'agent0';
import { centeredAdvantage } from './advantage.js';
import { calcCommand } from './command.js';
import { calcDrill } from './stage.js';
import { calculatorTool } from './tool.js';
import { lengthPenalty } from './reward.js';

export { calculate } from './calculator.js';
export { CalculatorTool, type CalculatorOptions } from './tool.js';
export { LengthPenalty, type LengthPenaltyOptions } from './reward.js';
export { CenteredAdvantage, type CenteredOptions } from './advantage.js';
export { CalcDrill, type DrillOptions, type DrillRow } from './stage.js';

/** A recipe loads this by naming the package under `plugins:`; the CLI by `--plugin agent0-plugin-example`. */
export default definePlugin({
  meta: {
    name: 'agent0-plugin-example',
    version: '0.2.0',
    description: 'calculator tool, length-penalty reward, centered advantage, calc-drill stage and the `calc` command',
  },
  components: [calculatorTool, lengthPenalty, centeredAdvantage, calcDrill],
  commands: [calcCommand],
});
