import type {
  Completion,
  GenerateOptions,
  LossOutput,
  Policy,
  PolicyForward,
  RolloutEngine,
  SamplingParams,
  TokenBatch,
  TrainStepOptions,
  TrainStepStats,
} from '../../core/index.js';

/**
 * A Policy that samples on a remote engine and does everything else (log-probs, training,
 * checkpoints) on a local policy, so stages that take a policy can generate on vLLM / SGLang.
 * The servers follow the local weights only at checkpoints, and only when the engine can reload
 * (rollout/openai with weightSync: from-disk); between them, samples of a policy being trained
 * are off-policy.
 */
export class RemoteRolloutPolicy implements Policy {
  constructor(
    private readonly local: Policy,
    private readonly remote: RolloutEngine,
    private readonly remoteName: string,
  ) {
    const [a, b] = [local.tokenizer, remote.tokenizer];
    const sample = (t: typeof a) => {
      try {
        return t.encode('Problem: 12+30=42').join();
      } catch {
        return 'unencodable';
      }
    };
    if (a !== b && (a.vocabSize !== b.vocabSize || sample(a) !== sample(b))) {
      throw new Error(
        `policy/remote-rollout: the local policy's tokenizer (${a.vocabSize} tokens) and '${remoteName}''s (${b.vocabSize}) disagree; point the remote engine's tokenizer at the local policy`,
      );
    }
  }

  get tokenizer() {
    return this.local.tokenizer;
  }

  /** The local policy's fused training, when it has one (rlStep trains through it). */
  get fused() {
    return this.local.fused;
  }

  describe(): Record<string, unknown> {
    return { ...this.local.describe(), rollout: this.remoteName };
  }

  generate(prompts: number[][], params: SamplingParams, opts?: GenerateOptions): Promise<Completion[]> {
    return this.remote.generate(prompts, params, opts);
  }

  computeLogProbs(batch: TokenBatch, opts?: { microBatchSize?: number }): Promise<Float32Array[]> {
    return this.local.computeLogProbs(batch, opts);
  }

  trainStep(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats> {
    return this.local.trainStep(batch, lossFn, opts);
  }

  /** A frozen copy of the local weights (a KL reference is computed locally). */
  snapshot(): Promise<Policy> {
    return this.local.snapshot();
  }

  /** Saves the local weights; an engine that can reload (weightSync) then loads them too. */
  async save(dir: string): Promise<void> {
    await this.local.save(dir);
    await this.remote.loadWeights?.(dir);
  }

  async load(dir: string): Promise<void> {
    await this.local.load(dir);
    await this.remote.loadWeights?.(dir);
  }

  /** Both parts are instances of the run and are disposed by it. */
  dispose(): void {}
}
