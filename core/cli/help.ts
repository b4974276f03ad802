import type { CliCommand } from './command.js';

/**
 * One option of a command: node:util `parseArgs`'s option config (it ignores the extra keys), plus
 * what `--help` prints. A command passes the same object to `parseArgs`, so its help cannot list
 * an option it does not take.
 */
export interface CliOption {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
  /** One line for `--help`. */
  description: string;
  /** How `--help` names the option's value (`N`, `FILE`); string options only. */
  value?: string;
}

export type CliOptions = Record<string, CliOption>;

/** True when `-h`/`--help` comes before any `--` (after which everything is an operand). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

function optionLabel(name: string, o: CliOption): string {
  const flag = `${o.short ? `-${o.short}, ` : ''}--${name}`;
  return o.type === 'string' ? `${flag} ${o.value ?? 'VALUE'}${o.multiple ? ' ...' : ''}` : flag;
}

function defaultText(o: CliOption): string {
  if (o.default === undefined || o.default === false) return '';
  if (Array.isArray(o.default)) return o.default.length > 0 ? ` (default: ${o.default.join(', ')})` : '';
  return ` (default: ${String(o.default)})`;
}

/** A command's `--help`: usage, summary, details, then every option with its default. */
export function commandHelp(c: CliCommand): string {
  const rows: [string, string][] = Object.entries(c.options ?? {}).map(([n, o]) => [
    optionLabel(n, o),
    `${o.description}${defaultText(o)}`,
  ]);
  rows.push(['-h, --help', 'show this help and exit']);
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = [`usage: ${c.usage}`, '', c.summary];
  if (c.details) lines.push('', c.details.trimEnd());
  lines.push('', 'options:');
  for (const [label, text] of rows) {
    lines.push(
      label.length + 2 > width ? `  ${label}\n  ${' '.repeat(width)}${text}` : `  ${label.padEnd(width)}${text}`,
    );
  }
  return lines.join('\n');
}
