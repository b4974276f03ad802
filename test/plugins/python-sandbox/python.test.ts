import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxPythonPath } from '../../../plugins/python-sandbox/python-sources.js';

/*
 * The Python side of the sandbox as Python: its own stdlib unittest suite
 * (plugins/python-sandbox/python/tests: the bootstrap, run_program, the seccomp filter through a BPF
 * interpreter, the worker as a process, the wasm runner) and pyflakes over every Python file of the
 * project (the sandbox's package and tests, and the trainer service of policy/torch).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const LINTED = ['plugins/python-sandbox/python', 'plugins/engine-torch/python'];

function firstThatRuns(candidates: string[][]): string[] | undefined {
  return candidates.find(
    ([cmd, ...args]) =>
      spawnSync(cmd as string, [...args, '--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0,
  );
}

describe('python sandbox: the Python package (unittest, pyflakes)', function () {
  this.timeout(120_000);

  it('python -m unittest discover passes', () => {
    const python = firstThatRuns([['/usr/bin/python3'], ['python3']]);
    expect(python, 'a python3 to run the tests with').to.not.equal(undefined);
    const cwd = sandboxPythonPath();
    const r = spawnSync(python![0] as string, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
      cwd,
      encoding: 'utf8',
      timeout: 110_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    const what = `${python![0]} -m unittest discover (in ${cwd}) exited with ${r.signal ?? r.status}`;
    if (r.status !== 0) console.log(`${what}:\n${r.stdout}${r.stderr}`);
    expect(r.status, what).to.equal(0);
    expect(r.stderr).to.match(/\nOK\b/);
  });

  it("pyflakes finds nothing in the project's Python", function () {
    const pyflakes = firstThatRuns([
      ['pyflakes3'],
      ['/usr/bin/python3', '-m', 'pyflakes'],
      ['python3', '-m', 'pyflakes'],
      ['pyflakes'],
    ]);
    // CI installs it (.ci/run: python3-pyflakes); elsewhere: apt-get install python3-pyflakes.
    if (!pyflakes) this.skip();
    const [cmd, ...args] = pyflakes as string[];
    const r = spawnSync(cmd as string, [...args, ...LINTED], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
    expect(`${r.stdout}${r.stderr}`.trim()).to.equal('');
    expect(r.status).to.equal(0);
  });
});
