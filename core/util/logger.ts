export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Namespaced logger writing to stderr (stdout stays free for machine-readable output). */
export class Logger {
  constructor(
    readonly namespace = 'agent0',
    private readonly level: LogLevel = (process.env.AGENT0_LOG as LogLevel) || 'info',
    private readonly write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {}
  child(ns: string): Logger {
    return new Logger(`${this.namespace}:${ns}`, this.level, this.write);
  }
  private out(level: LogLevel, msg: string): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const t = new Date().toISOString().slice(11, 19);
    this.write(`${t} ${level === 'info' ? '' : `${level.toUpperCase()} `}[${this.namespace}] ${msg}`);
  }
  debug(msg: string): void {
    this.out('debug', msg);
  }
  info(msg: string): void {
    this.out('info', msg);
  }
  warn(msg: string): void {
    this.out('warn', msg);
  }
  error(msg: string): void {
    this.out('error', msg);
  }
}

/** A logger that records lines (tests). */
export function memoryLogger(lines: string[] = [], namespace = 'test'): Logger {
  return new Logger(namespace, 'debug', (l) => lines.push(l));
}
