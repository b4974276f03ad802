// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { Logger, RunDir, type ComponentContext, type MetricRecord } from '../../core/index.js';
import { buildReport } from '../../plugins/pipeline/report/build.js';
import { pythonTool } from '../../plugins/python-sandbox/index.js';
import { testOptions } from './python-sandbox/helpers.js';
import { tmpDir } from '../core/helpers.js';

// Issue 15, item 4: the run's report says which isolation ran the model's programs.

const REPORT = {
  baseline: 'baseline',
  evaluate: 'evaluate',
  generate: 'generate',
  curate: 'curate',
  title: 'T',
  note: 'n',
};

describe('report: how model-written code ran', function () {
  this.timeout(60_000);

  it('tool/python logs its isolation when it is built; the report shows it in a table, and warns when a recipe turned it off', async () => {
    const runDir = new RunDir(await tmpDir());
    const lines: string[] = [];
    const ctx = {
      name: 'python',
      runDir,
      log: new Logger('test', 'info', (l) => lines.push(l)),
      metrics: { log: (r: MetricRecord) => runDir.appendJsonl('metrics.jsonl', [r]) },
    } as unknown as ComponentContext;
    const tool = await pythonTool.create({ ...testOptions(), isolation: 'none' }, ctx);
    await tool.dispose?.();
    expect(lines.join('\n')).to.match(
      /tool python: model-written code runs under isolation none .*not isolated against: isolation disabled by the recipe/,
    );
    // The same run resumed elsewhere, under wasm: both rows, each once.
    await runDir.appendJsonl('metrics.jsonl', [
      {
        stage: 'tool',
        iteration: 0,
        tool: 'python',
        isolation: 'wasm',
        python: 'pyodide 0.29.5 (CPython in WebAssembly) 3.13.2',
        missing: 'packages outside the standard library',
      },
    ]);
    await runDir.appendJsonl('metrics.jsonl', [
      {
        stage: 'tool',
        iteration: 0,
        tool: 'python',
        isolation: 'wasm',
        python: 'pyodide 0.29.5 (CPython in WebAssembly) 3.13.2',
        missing: 'packages outside the standard library',
      },
    ]);
    const md = await buildReport(runDir, REPORT);
    const section = md.slice(md.indexOf('## How model-written code ran'), md.indexOf('## Time per stage'));
    const rows = section.split('\n').filter((l) => l.startsWith('| python |'));
    expect(rows).to.have.length(2);
    expect(rows[0]).to.match(
      /^\| python \| none \| NOT isolated: a plain process .* \| .*python3? .* \| isolation disabled by the recipe \(isolation: none\) \|$/,
    );
    expect(rows[1]).to.equal(
      '| python | wasm | CPython compiled to WebAssembly in a locked-down Node process (no host files, no network) | pyodide 0.29.5 (CPython in WebAssembly) 3.13.2 | packages outside the standard library |',
    );
    expect(section).to.match(/\*\*Warning:\*\* some programs ran without isolation/);
  });

  it('no tool, no section', async () => {
    const runDir = new RunDir(await tmpDir());
    await runDir.appendJsonl('metrics.jsonl', [{ stage: 'executor-train', iteration: 1, step: 0, reward: 0.5 }]);
    expect(await buildReport(runDir, REPORT)).to.not.include('How model-written code ran');
  });
});
