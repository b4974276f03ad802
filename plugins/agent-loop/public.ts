/** The tool loop, usable without DI (scripts, tests). */
export { ToolLoop, type ToolLoopOptions } from './loop.js';
export { truncateIds, formatObservation as fillObservationTemplate, type TruncateSide } from './truncate.js';
