/** One named instance in a recipe: `components.<name>: { use: <kind>/<name>, options: {...} }`. */
export interface ComponentSpec {
  use: string;
  options: Record<string, unknown>;
}

/** One stage execution in the pipeline. `name` defaults to the part of `use` after the slash. */
export interface StageSpec {
  use: string;
  name: string;
  options: Record<string, unknown>;
}

export interface PipelineSpec {
  /** Co-evolution iterations of `loop`. */
  iterations: number;
  /** Stages run once before the loop (e.g. bootstrap). */
  setup: StageSpec[];
  /** Stages repeated each iteration (curriculum-train, generate, curate, executor-train, evaluate). */
  loop: StageSpec[];
  /** Stages run once after the loop (e.g. report). */
  teardown: StageSpec[];
}

/** A recipe after `extends`, `--set` and validation, with every default filled in. */
export interface ResolvedRecipe {
  name: string;
  description?: string;
  seed: number;
  /** Third-party plugin packages (npm names or paths), loaded with import(). */
  plugins: string[];
  components: Record<string, ComponentSpec>;
  pipeline: PipelineSpec;
  /** Where the recipe came from (files in `extends` order, then overrides). */
  provenance: { files: string[]; sets: string[] };
}
