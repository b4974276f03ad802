import { expect } from 'chai';
import { existsSync, promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRegistry, DefaultCliEnv, Logger } from '../../../core/index.js';
import { benchEngineCommand } from '../../../plugins/engine-tfjs/bench/command.js';
import { describePeer, judgePeer } from '../../../plugins/engine-tfjs/bench/peer-check.js';
import {
  findPeerScript,
  findTorchPython,
  type PeerBlas,
  type PeerProbe,
  probePeer,
} from '../../../plugins/engine-tfjs/bench/peer.js';

const OPENBLAS: PeerBlas = {
  build: 'generic',
  library: 'openblas',
  detail: 'OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell MAX_THREADS=64 (pthreads)',
  path: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
  threads: 1,
};
const REFERENCE: PeerBlas = {
  build: 'generic',
  library: 'reference',
  detail: 'reference BLAS (netlib)',
  path: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0',
  threads: 1,
};
const peer = (blas: PeerBlas, threads = 2): PeerProbe => ({ torch: '1.13.0', threads, blas });

describe('bench engine: judging the PyTorch peer', () => {
  it("trusts a peer on OpenBLAS with the tfjs side's threads", () => {
    expect(judgePeer(peer(OPENBLAS), 2)).to.deep.equal({ withhold: false, problems: [] });
  });

  it('withholds the ratio against the reference BLAS and says how to fix it', () => {
    const v = judgePeer(peer(REFERENCE), 2);
    expect(v.withhold).to.equal(true);
    expect(v.problems).to.have.length(1);
    expect(v.problems[0]).to.contain('reference BLAS (netlib), /usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0');
    expect(v.problems[0]).to.contain('apt-get install libopenblas0-pthread');
  });

  it('flags a peer on fewer threads than tfjs uses, or on a BLAS it could not name', () => {
    expect(judgePeer(peer(OPENBLAS, 1), 4)).to.deep.equal({
      withhold: false,
      problems: ['PyTorch ran on 1 thread(s), fewer than the 4 the tfjs side uses'],
    });
    const unknown = judgePeer(
      peer({
        ...OPENBLAS,
        library: 'unknown',
        detail: 'sgemm_ not found in a separate library',
        path: null,
        threads: null,
      }),
      2,
    );
    expect(unknown.withhold).to.equal(false);
    expect(unknown.problems).to.deep.equal([
      "could not tell which BLAS PyTorch's matmuls ran on (sgemm_ not found in a separate library)",
    ]);
    // an older peer script that reports no BLAS at all
    expect(judgePeer({ torch: '2.3', threads: 2 } as PeerProbe, 2).problems).to.deep.equal([
      'the peer did not report its BLAS (an older bench/peers/qwen3_torch.py?)',
    ]);
  });

  it('names the kernel library in one line', () => {
    expect(describePeer(peer(OPENBLAS))).to.equal(
      'PyTorch 1.13.0 on OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell MAX_THREADS=64 (pthreads) [/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3]; BLAS threads 1, torch threads 2',
    );
  });
});

describe('bench engine: a fake peer on the reference BLAS', function () {
  this.timeout(120_000);
  let dir: string;
  let log: string;
  const saved = process.env.AGENT0_PEER_PYTHON;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-fake-peer-'));
    log = path.join(dir, 'calls.log');
    const timings = {
      torch: '1.13.0',
      threads: 1,
      blas: REFERENCE,
      trainTokensPerSec: 100,
      logProbTokensPerSec: 200,
      sampleTokensPerSec: 50,
    };
    // A stand-in python: answers the torch probe (-c ...), the peer's --probe and a timed run.
    const script = [
      '#!/bin/sh',
      `echo "$*" >> '${log}'`,
      'if [ "$1" = "-c" ]; then echo 1.13.0; echo 3.11.2; exit 0; fi',
      'cat > /dev/null',
      `if [ "$2" = "--probe" ]; then echo '${JSON.stringify({ torch: '1.13.0', threads: 1, blas: REFERENCE })}'; else echo '${JSON.stringify(timings)}'; fi`,
    ].join('\n');
    await fs.writeFile(path.join(dir, 'python'), `${script}\n`, { mode: 0o755 });
    process.env.AGENT0_PEER_PYTHON = path.join(dir, 'python');
  });
  after(() => {
    if (saved === undefined) delete process.env.AGENT0_PEER_PYTHON;
    else process.env.AGENT0_PEER_PYTHON = saved;
  });

  async function bench(extra: string[]) {
    let out = '';
    const env = new DefaultCliEnv(await createRegistry([]), {
      builtins: [],
      log: new Logger('test', 'error'),
      stdout: (s) => {
        out += s;
      },
      stderr: () => {},
    });
    const code = await benchEngineCommand.run(
      ['--models', 'tiny', '--reps', '1', '--rounds', '1', '--workers', '1', '--backend', 'wasm', ...extra],
      env,
    );
    return { code, out };
  }

  it("prints the peer's BLAS, withholds every ratio and does not time the peer", async () => {
    await fs.writeFile(log, '');
    const r = await bench([]);
    expect(r.code).to.equal(0);
    expect(r.out).to.contain(
      'peer: PyTorch 1.13.0 on reference BLAS (netlib) [/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0]; BLAS threads 1, torch threads 1',
    );
    const rows = r.out.split('\n').filter((l) => l.startsWith('tiny '));
    expect(rows).to.have.length(3);
    for (const row of rows) expect(row).to.match(/ -\s+withheld$/);
    expect(r.out).to.contain('ratios withheld: the PyTorch peer is crippled');
    expect(r.out).to.contain("! PyTorch's matmuls ran on the reference BLAS");
    const calls = (await fs.readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('-c'));
    expect(calls).to.have.length(1);
    expect(calls[0]).to.match(/qwen3_torch\.py --probe$/);
  });

  it('--allow-slow-peer times it and flags the ratios; --json carries the verdict', async () => {
    const r = await bench(['--allow-slow-peer', '--json']);
    const res = JSON.parse(r.out) as {
      peer: { blas: PeerBlas; withheld: boolean; problems: string[] };
      results: { ratio?: Record<string, number>; peerProblems?: string[]; tfjs: Record<string, number> }[];
    };
    expect(res.peer.blas.library).to.equal('reference');
    expect(res.peer.withheld).to.equal(false);
    expect(res.peer.problems).to.have.length(1);
    const row = res.results[0]!;
    expect(row.peerProblems).to.deep.equal(res.peer.problems);
    expect(row.ratio!.trainTokensPerSec).to.be.closeTo(row.tfjs.trainTokensPerSec! / 100, 1e-9);
    const text = await bench(['--allow-slow-peer']);
    expect(text.out).to.match(/train +\d+ +100 +[\d.]+x!/);
    expect(text.out).to.contain('ratios marked ! compare against a handicapped PyTorch');
  });
});

describe('bench engine: the real peer names the BLAS torch uses', function () {
  this.timeout(180_000);
  const python = findTorchPython();
  const script = findPeerScript();
  const systemBlas = '/usr/lib/x86_64-linux-gnu/libblas.so.3';
  const referenceDir = '/usr/lib/x86_64-linux-gnu/blas';

  it('says which library libblas.so.3 resolves to on this machine (OpenBLAS where libopenblas0-pthread is installed)', async function () {
    if (!python || !script || !existsSync(systemBlas)) this.skip();
    // the independent answer: where Debian's alternatives point libblas.so.3
    const target = realpathSync(systemBlas);
    const expected = /openblas/.test(target)
      ? 'openblas'
      : /\/blas\//.test(target)
        ? 'reference'
        : /blis/.test(target)
          ? 'blis'
          : /atlas/.test(target)
            ? 'atlas'
            : null;
    if (!expected) this.skip();
    const p = await probePeer(python!, script!, 2);
    expect(p.blas.library).to.equal(expected);
    expect(realpathSync(p.blas.path!)).to.equal(target);
    expect(p.threads).to.equal(2);
    if (expected === 'openblas') {
      expect(p.blas.detail).to.match(/^OpenBLAS \d+\.\d+/);
      expect(p.blas.threads).to.equal(1, 'runPeer asks OpenBLAS for one thread');
    }
  });

  it('sees the reference BLAS when the loader is pointed at it, although OpenBLAS is mapped too', async function () {
    if (!python || !script || !existsSync(path.join(referenceDir, 'libblas.so.3'))) this.skip();
    const p = await probePeer(python!, script!, 1, { LD_LIBRARY_PATH: referenceDir });
    expect(p.blas.library).to.equal('reference');
    expect(path.dirname(p.blas.path!)).to.equal(referenceDir);
    expect(judgePeer(p, 1).withhold).to.equal(true);
  });
});
