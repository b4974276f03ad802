/** Every component kind the core knows. Registry ids are `<kind>/<name>`. */
export const COMPONENT_KINDS = [
  'policy',
  'rollout',
  'agent-loop',
  'tool',
  'verifier',
  'reward',
  'advantage',
  'policy-loss',
  'kl',
  'loss-agg',
  'task-source',
  'metrics-sink',
  'stage',
] as const;

export type ComponentKind = (typeof COMPONENT_KINDS)[number];

export function isComponentKind(s: string): s is ComponentKind {
  return (COMPONENT_KINDS as readonly string[]).includes(s);
}
