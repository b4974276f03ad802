/** Pure helpers of the arithmetic world, re-exported from the package entry. */
export { evaluate, tryEvaluate, parseExpr, evalExpr, formatExpr, ArithError, type Expr, type BinOp } from './expr.js';
export { generateProblem, DEFAULT_DIFFICULTY, GEN_OPS, type Difficulty, type Problem, type GenOp } from './generate.js';
export { measureDifficulty, type TextDifficulty } from './difficulty.js';
export { DEFAULT_SPLITS, generateSplit, type SplitSpec, type MixPart } from './splits.js';
export {
  DEFAULT_FORMAT,
  OUTPUT_STOP,
  executorPrompt,
  executorSolution,
  curriculumOutput,
  formatObservation,
  pythonFor,
  parseCurriculumOutput,
  type WorldFormat,
  type Segment,
} from './formats.js';
export { ArithTaskSource } from './task-source.js';
