import type { Logger } from './logger.js';

export interface Progress {
  /** Advance by `n` units; `info` is shown beside the rate (e.g. loss=0.31). */
  tick(n?: number, info?: Record<string, string | number>): void;
  done(info?: Record<string, string | number>): void;
}

export type ProgressFactory = (label: string, total: number, unit?: string) => Progress;

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function fmtInfo(info?: Record<string, string | number>): string {
  if (!info) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
    .join(' ');
}

/**
 * Periodic progress lines with rate and ETA. Lines rather than a redrawn bar, so logs of
 * unattended runs (CI, nohup) stay readable; at most one line per `everyMs`.
 */
export function lineProgress(log: Logger, everyMs = 5000, now: () => number = Date.now): ProgressFactory {
  return (label, total, unit = 'it') => {
    const start = now();
    let last = start;
    let count = 0;
    const line = (info?: Record<string, string | number>, final = false): string => {
      const el = (now() - start) / 1000;
      const rate = el > 0 ? count / el : 0;
      const eta = rate > 0 ? (total - count) / rate : Infinity;
      const pct = total > 0 ? ` ${((100 * count) / total).toFixed(0)}%` : '';
      const tail = final ? `in ${fmtDuration(el)}` : `ETA ${fmtDuration(eta)}`;
      return `${label} ${count}/${total}${pct} ${rate.toFixed(rate < 10 ? 2 : 0)} ${unit}/s ${tail} ${fmtInfo(info)}`.trimEnd();
    };
    return {
      tick(n = 1, info) {
        count += n;
        const t = now();
        if (t - last >= everyMs) {
          last = t;
          log.info(line(info));
        }
      },
      done(info) {
        log.info(line(info, true));
      },
    };
  };
}

export const silentProgress: ProgressFactory = () => ({ tick() {}, done() {} });
