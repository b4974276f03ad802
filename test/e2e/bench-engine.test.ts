import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agent0 } from './cli.js';

describe('e2e: agent0 bench engine', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'agent0-bench-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('measures the tiny model on two worker threads and says what it ran on', async () => {
    for (const workers of ['2']) {
      const r = await agent0(
        [
          'bench',
          'engine',
          '--json',
          '--models',
          'tiny',
          '--reps',
          '1',
          '--rounds',
          '1',
          '--workers',
          workers,
          '--no-peer',
        ],
        dir,
      );
      expect(r.code, r.err).to.equal(0);
      const j = JSON.parse(r.out) as {
        workers: number;
        rounds: number;
        backend: string;
        results: { model: string; tfjs: Record<string, number>; peerError?: string }[];
      };
      expect(j.workers).to.equal(Number(workers));
      expect(j.rounds).to.equal(1);
      expect(j.backend).to.match(/wasm/);
      expect(j.results.map((x) => x.model)).to.deep.equal(['tiny']);
      for (const k of ['trainTokensPerSec', 'logProbTokensPerSec', 'sampleTokensPerSec'])
        expect(j.results[0]!.tfjs[k]).to.be.above(0);
      expect(j.results[0]!.peerError).to.match(/no-peer/);
    }
  });

  it('refuses bad arguments with exit code 2', async () => {
    for (const args of [
      ['--workers', '0'],
      ['--rounds', 'x'],
      ['--models', 'huge'],
    ]) {
      const r = await agent0(['bench', 'engine', ...args], dir);
      expect(r.code).to.equal(2);
      expect(r.err).to.match(/--workers|--rounds|unknown model/);
    }
  });
});
