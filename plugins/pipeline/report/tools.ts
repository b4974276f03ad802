import type { MetricRecord } from '../../../core/index.js';

const WHAT: Record<string, string> = {
  'bwrap-userns': 'bubblewrap with user, pid, network, IPC and mount namespaces, seccomp filter',
  'bwrap-root': 'bubblewrap without a user namespace (started as root, programs as nobody), seccomp filter',
  wasm: 'CPython compiled to WebAssembly in a locked-down Node process (no host files, no network)',
  none: 'NOT isolated: a plain process with rlimits only (isolation: none)',
};

/**
 * The report's account of how model-written code ran: one row per tool and isolation, from the
 * `stage: 'tool'` records tools log when they are built (a resumed run may add a second row).
 */
export function toolIsolationSection(records: MetricRecord[]): string[] {
  const rows = new Map<string, MetricRecord>();
  for (const r of records) {
    if (r.stage === 'tool' && typeof r.isolation === 'string') rows.set(`${String(r.tool)}|${r.isolation}`, r);
  }
  if (rows.size === 0) return [];
  const esc = (s: unknown) => String(s ?? '').replace(/\|/g, '\\|');
  const out = [
    '## How model-written code ran',
    '',
    '| tool | isolation | what that is | interpreter | not isolated against |',
    '|---|---|---|---|---|',
    ...[...rows.values()].map(
      (r) =>
        `| ${esc(r.tool)} | ${esc(r.isolation)} | ${esc(WHAT[String(r.isolation)] ?? '')} | ${esc(r.python)} | ${esc(r.missing) || '–'} |`,
    ),
    '',
  ];
  if ([...rows.values()].some((r) => r.isolation === 'none'))
    out.push('**Warning:** some programs ran without isolation, as the recipe asked (`isolation: none`).', '');
  return out;
}
