/** What a tool finds in a model's text: the action to run, or why there is none. */
export interface ParsedAction {
  /** True when the text holds a well-formed action for this tool. */
  valid: boolean;
  /** The payload to run (e.g. Python source), when valid. */
  action?: string;
  /**
   * Inputs found beside the action (e.g. `stdin` from a ```input block). Callers pass them to
   * `conductAction` in `extra`, over their own extra fields.
   */
  extra?: Record<string, unknown>;
}

export interface ToolResult {
  /** Text appended to the trajectory (masked out of the loss). */
  observation: string;
  /** The tool ends the trajectory (e.g. an answer tool). */
  done: boolean;
  /** The action was well-formed and ran (a program that raised is still valid; a sandbox failure is not). */
  valid: boolean;
  /** Tool-specific details for metrics (status, wall time, exit code). */
  info?: Record<string, string | number | boolean>;
}

/**
 * A tool, with per-trajectory state. `conductAction` must never throw for bad model input:
 * hangs, crashes and floods come back as an observation.
 */
export interface Tool {
  readonly name: string;
  parseAction(text: string): ParsedAction;
  conductAction(trajectoryId: string, action: string, extra?: Record<string, unknown>): Promise<ToolResult>;
  /** Frees the trajectory's state (stateful interpreters, workers). Idempotent. */
  finish(trajectoryId: string): Promise<void>;
  dispose?(): Promise<void> | void;
}
