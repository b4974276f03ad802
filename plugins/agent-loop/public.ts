/**
 * The tool loop, usable without DI (scripts, tests); it lives in the shared layer, which arith-world's probe runs too.
 */
export { ToolLoop, type SampleStreams, type ToolLoopOptions } from '../shared/tool-loop.js';
export { truncateIds, formatObservation as fillObservationTemplate, type TruncateSide } from '../shared/truncate.js';
