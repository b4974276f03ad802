/** Pure helpers of the math verifier, usable without DI or worker threads. */
export { extractAnswer } from './extract.js';
export { normalizeAnswer } from './normalize.js';
export { compareAnswers, DEFAULT_COMPARE, type CompareOptions } from './compare.js';
export { MathVerifier, DEFAULT_VERIFIER, goldAnswer, type MathVerifierOptions } from './verifier.js';
