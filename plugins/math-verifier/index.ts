import { defineComponent, definePlugin } from '../../core/index.js';
import { benchVerifierCommand, verifyCommand } from './commands.js';
import { MATH_VERIFIER_SCHEMA } from './options.js';
import { MathVerifier } from './verifier.js';

export { MathVerifier } from './verifier.js';

export const mathVerifier = defineComponent({
  kind: 'verifier',
  name: 'math',
  description:
    'final-answer extraction and gold-led math equivalence (exact, tolerance, structures, symbolic), with timeouts in worker threads',
  options: MATH_VERIFIER_SCHEMA,
  create: (o) => new MathVerifier(o),
});

export default definePlugin({
  meta: {
    name: 'agent0/math-verifier',
    version: '0.1.0',
    description: 'math answer verification: `verifier/math`, `agent0 verify`, `agent0 bench verifier`',
  },
  components: [mathVerifier],
  commands: [verifyCommand, benchVerifierCommand],
});
