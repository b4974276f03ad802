/**
 * DI tokens of a run's child container: the services every component context is resolved from
 * (an application's parent container may supply Logger, Metrics, Progress and Signal). `Symbol.for`
 * so that two copies of the core (e.g. a plugin that bundled its own) still agree on them.
 */
export const TOKENS = {
  RunDir: Symbol.for('agent0.RunDir'),
  Logger: Symbol.for('agent0.Logger'),
  Metrics: Symbol.for('agent0.Metrics'),
  Progress: Symbol.for('agent0.Progress'),
  Signal: Symbol.for('agent0.Signal'),
} as const;

/** The token of a named instance (`components.<name>`); resolves to a Promise of the instance. */
export function componentToken(name: string): string {
  return `agent0.component:${name}`;
}
