/**
 * The agent0 test kit: conformance suites per component kind, for plugin authors and built-ins alike.
 * Call them at the top level of a mocha test file:
 *   testTool('calculator', () => new CalculatorTool(8), { valid: [...], invalid: [...] });
 */
export * from './tool.js';
export * from './verifier.js';
export * from './reward.js';
export * from './algorithms.js';
export * from './engine.js';
