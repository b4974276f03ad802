export interface VerifyResult {
  correct: boolean;
  /** The answer found in the response, or null when none could be extracted. */
  extracted: string | null;
}

/** Extracts a final answer and decides equivalence with a reference (gold-led). */
export interface Verifier {
  extract(response: string): string | null;
  /** Both arguments are answers (already extracted). Never hangs: a timeout is a non-match. */
  equivalent(gold: string, pred: string): Promise<boolean>;
  verify(gold: string, response: string): Promise<VerifyResult>;
  dispose?(): Promise<void> | void;
}
