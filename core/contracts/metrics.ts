export interface MetricRecord {
  /** e.g. 'executor-train' */
  stage: string;
  iteration: number;
  step?: number;
  time?: string;
  [metric: string]: number | string | undefined;
}

export interface MetricsSink {
  log(record: MetricRecord): void | Promise<void>;
  flush?(): Promise<void>;
  close?(): Promise<void>;
}
