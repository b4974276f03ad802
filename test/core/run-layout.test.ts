import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  checkpointOption,
  checkpointSet,
  committedCheckpointDir,
  defaultRunDir,
  parseStageKey,
  RunDir,
  RUN_FILES,
  SETUP_ITERATION,
  stageDir,
  stageKey,
  stageStateFile,
  stepCheckpointBase,
  TEARDOWN_ITERATION,
} from '../../core/index.js';
import { tmpDir } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** TypeScript sources under `dir` (relative to the repository), with comments removed. */
async function sources(dir: string): Promise<{ file: string; code: string }[]> {
  const names = (await fs.readdir(path.join(root, dir), { recursive: true })).filter((n) => n.endsWith('.ts'));
  return Promise.all(
    names.map(async (n) => {
      const file = path.join(dir, n);
      const text = await fs.readFile(path.join(root, file), 'utf8');
      return { file, code: text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1') };
    }),
  );
}

/** `name` as (the end of) a string literal: `'state.json'`, `` `${dir}/state.json` ``. */
function literal(name: string): RegExp {
  return new RegExp(`['"\`/]${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"\`]`);
}

function offenders(files: { file: string; code: string }[], patterns: RegExp[], allowed: string[]): string[] {
  return files
    .filter((f) => !allowed.includes(f.file))
    .flatMap((f) => patterns.filter((p) => p.test(f.code)).map((p) => `${f.file}: ${p.source}`));
}

describe('run folder layout (core/run/layout.ts)', () => {
  it('names stage executions, their folders and checkpoints as runs always have', () => {
    expect(stageKey('bootstrap', SETUP_ITERATION)).to.equal('setup/bootstrap');
    expect(stageKey('curate', 2)).to.equal('iter-2/curate');
    expect(stageKey('report', TEARDOWN_ITERATION)).to.equal('final/report');
    expect(stageDir('iter-2/curate')).to.equal(path.join('iter-2', 'curate'));
    expect(stageStateFile('iter-2/curate')).to.equal(path.join('iter-2', 'curate', 'stage-state.json'));
    expect(stepCheckpointBase('/r/iter-1/executor-train')).to.equal('/r/iter-1/executor-train/checkpoint');
    expect(committedCheckpointDir('iter-1/executor-train', 'executor')).to.equal(
      path.join('checkpoints', 'iter-1-executor-train', 'executor'),
    );
    expect(defaultRunDir('smoke')).to.equal(path.join('runs', 'smoke'));
    expect(RUN_FILES).to.deep.equal({
      recipe: 'recipe.resolved.yaml',
      meta: 'run.json',
      state: 'state.json',
      metrics: 'metrics.jsonl',
      lock: 'run.lock',
    });
  });

  it('reads keys back, and nothing that is not a key', () => {
    expect(parseStageKey('setup/baseline')).to.deep.equal({ stage: 'baseline', iteration: 0 });
    expect(parseStageKey('iter-12/evaluate')).to.deep.equal({ stage: 'evaluate', iteration: 12 });
    expect(parseStageKey('final/report')).to.deep.equal({ stage: 'report', iteration: -1 });
    for (const bad of ['report', 'iter-x/a', 'iter-/a', 'plots/a', 'iteration-1/a'])
      expect(parseStageKey(bad), bad).to.equal(undefined);
    for (const i of [0, 1, 7, -1]) expect(parseStageKey(stageKey('s', i))).to.deep.equal({ stage: 's', iteration: i });
  });

  it("puts a stage's artifacts in its folder, written whole", async () => {
    const runDir = new RunDir(await tmpDir());
    const a = runDir.artifacts('curate', 3);
    expect(a.key).to.equal('iter-3/curate');
    expect(a.dir).to.equal(path.join(runDir.root, 'iter-3', 'curate'));
    await a.writeJsonl('rows.jsonl', [{ x: 1 }, { x: 2 }]);
    await a.writeJsonl('none.jsonl', []);
    expect(await fs.readFile(path.join(runDir.root, 'iter-3', 'curate', 'rows.jsonl'), 'utf8')).to.equal(
      '{"x":1}\n{"x":2}\n',
    );
    expect(await fs.readFile(a.path('none.jsonl'), 'utf8')).to.equal('');
    expect(await runDir.stageArtifacts('iter-3/curate').readJsonl('rows.jsonl')).to.deep.equal([{ x: 1 }, { x: 2 }]);
    expect(await a.readJson('missing.json')).to.equal(undefined);
    expect(await a.exists('rows.jsonl')).to.equal(true);
  });

  it('starts a policy from a folder through its one checkpoint option', () => {
    expect(checkpointOption('m', '/work')).to.deep.equal({ checkpoint: '/work/m' });
    expect(checkpointSet('executor', 'runs/x/model', '/work')).to.equal(
      'components.executor.options.checkpoint="/work/runs/x/model"',
    );
  });

  it("is the only place that spells the run folder's names: plugins and the rest of core ask it", async () => {
    const layoutNames = [
      ...[...Object.values(RUN_FILES), 'stage-state.json', 'checkpoints'].map(literal),
      /\bjoin\([^)]*['"`]checkpoint['"`]/,
      /['"`/]checkpoint-/,
    ];
    const keyParts = [/['"`]iter-['"`$]/, /['"`](setup|final)\//];
    const byPath = [/\bctx\.dir\b/, /\.outputDir\(/, /path\.join\([^)]*\bctx\b/];
    expect(offenders(await sources('plugins'), [...layoutNames, ...keyParts, ...byPath], [])).to.deep.equal([]);
    expect(
      offenders(await sources('core'), [...layoutNames, ...keyParts], [path.join('core', 'run', 'layout.ts')]),
    ).to.deep.equal([]);
  });

  it("keeps the Agent0 stages' file names in plugins/pipeline/artifacts.ts", async () => {
    const names = ['questions.jsonl', 'answers.jsonl', 'tasks.jsonl', 'summary.json', 'items.jsonl', 'report.md'].map(
      literal,
    );
    const dir = path.join('plugins', 'pipeline');
    expect(offenders(await sources(dir), [...names, /['"`]plots\//], [path.join(dir, 'artifacts.ts')])).to.deep.equal(
      [],
    );
  });
});
