/**
 * Per-sample fields that travel from curation to the advantage estimator and the loss.
 * Plugins add their own keys by declaration merging:
 *   declare module 'agent0' { interface SampleFields { myScore?: number } }
 */
export interface SampleFields {
  /** ADPO: the task's self-consistency p_hat in [0, 1] (share of the majority answer). */
  selfConsistency?: number;
  [key: string]: number | undefined;
}

export type FieldColumns = Record<string, Float32Array>;

/** Thrown when a component needs a per-sample field that the batch does not carry. */
export class MissingFieldError extends Error {
  constructor(
    readonly field: string,
    readonly component: string,
    readonly row: number,
  ) {
    super(
      `${component} needs per-sample field '${field}', missing at row ${row}; ` +
        `the stage that builds the batch must carry it from the task (e.g. curation's self-consistency)`,
    );
    this.name = 'MissingFieldError';
  }
}

/** Collects `names` from every sample into columns; throws MissingFieldError on the first gap. */
export function fieldColumns(
  samples: readonly { fields?: SampleFields }[],
  names: readonly string[],
  component: string,
): FieldColumns {
  const out: FieldColumns = {};
  for (const name of names) {
    const col = new Float32Array(samples.length);
    samples.forEach((s, i) => {
      const v = s.fields?.[name];
      if (typeof v !== 'number' || Number.isNaN(v)) throw new MissingFieldError(name, component, i);
      col[i] = v;
    });
    out[name] = col;
  }
  return out;
}
