export type TruncateSide = 'left' | 'right' | 'middle';

/**
 * Keeps at most `max` items of `ids`. 'left' cuts the start (keeps the end), 'right' cuts the end
 * (keeps the start), 'middle' keeps the start and the end (the extra item, for odd `max`, goes to the start).
 */
export function truncateIds<T>(ids: readonly T[], max: number, side: TruncateSide): T[] {
  if (max < 0) throw new RangeError(`truncateIds: max must be >= 0, got ${max}`);
  if (ids.length <= max) return ids.slice();
  if (max === 0) return [];
  if (side === 'left') return ids.slice(ids.length - max);
  if (side === 'right') return ids.slice(0, max);
  const headN = Math.ceil(max / 2);
  return [...ids.slice(0, headN), ...ids.slice(ids.length - (max - headN))];
}

/** The observation template with `{output}` replaced (only the first placeholder; output text is never re-scanned). */
export function formatObservation(template: string, output: string): string {
  const at = template.indexOf('{output}');
  if (at < 0) return template + output;
  return template.slice(0, at) + output + template.slice(at + '{output}'.length);
}
