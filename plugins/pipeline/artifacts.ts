/**
 * The files the Agent0 stages leave in their folders (through `ctx.artifacts`, placed by core's
 * run layout) and the run-level report outputs. The report and `agent0 report` read them back by
 * these names, so each is spelled here only.
 */

/** stage/generate: the kept questions (GeneratedQuestion per line). */
export const QUESTIONS = 'questions.jsonl';
/** stage/curate: every question with its executor answers and vote (CuratedRow per line). */
export const ANSWERS = 'answers.jsonl';
/** stage/curate: the kept questions as training tasks with pseudo-labels (Task per line). */
export const TASKS = 'tasks.jsonl';
/** stage/evaluate and `agent0 eval`: EvalSummary per split (or the eval command's one summary). */
export const EVAL_SUMMARY = 'summary.json';
/** `agent0 eval`: one EvalItem per line. */
export const EVAL_ITEMS = 'items.jsonl';

/** stage/evaluate: one EvalItem per line of a split. */
export function evalItems(split: string): string {
  return `${split}.jsonl`;
}

/** The report at the run folder's top (stage/report, `agent0 report`). */
export const REPORT = 'report.md';

/** A plot beside the report, relative to the run folder (and to the report, which links it). */
export function plot(name: string): string {
  return `plots/${name}.svg`;
}
