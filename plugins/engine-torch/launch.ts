import { type ChildProcess, spawn } from 'node:child_process';
import { findTorchPython, probeTorchPython } from '../../core/index.js';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TorchPolicyOptions } from './options.js';

/** How `policy/torch` starts the trainer service when no `url` is given. */
export type LaunchOptions = TorchPolicyOptions['launch'];

/** A line of the service's stderr the launcher keeps (the last 200 go into error messages). */
const TAIL_LINES = 200;

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The folder holding the agent0_trainer package: beside this file in a checkout, or in the package's plugins/ from
 * dist/.
 */
export function trainerPythonPath(): string {
  const candidates = [
    path.join(here, 'python'),
    path.resolve(here, '..', '..', '..', 'plugins', 'engine-torch', 'python'),
  ];
  const found = candidates.find((c) => existsSync(path.join(c, 'agent0_trainer', '__main__.py')));
  if (!found) throw new Error(`the agent0_trainer Python package is missing (looked in ${candidates.join(', ')})`);
  return found;
}

/** The interpreter to start the service with: the asked one, or the first of the usual ones that imports torch. */
export function findPython(asked: string | null): string {
  const { python, tried } = findTorchPython(
    asked ? [asked] : [process.env.AGENT0_PYTHON, 'python3', '/usr/bin/python3'],
  );
  if (python) return python;
  throw new Error(
    `no Python with torch found for the trainer service (${tried.join('; ')}); install torch (Debian: apt-get install python3-torch libopenblas0-pthread) or set launch.python`,
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One started service: its ranks, address, token and the tail of what it printed. */
export class ServiceProcess {
  readonly tail: string[] = [];
  private exited: { code: number | null; signal: string | null } | undefined;
  private readonly exitListeners = new Set<(why: string) => void>();
  private exitReason: string | undefined;

  private address = '';

  private constructor(
    readonly token: string,
    private readonly ranks: ChildProcess[],
    readonly python: string,
  ) {}

  /** http://host:port of rank 0 (set once it listens). */
  get url(): string {
    return this.address;
  }

  /** Starts the ranks and waits until rank 0 listens (or a rank dies, or the startup timeout passes). */
  static async start(o: LaunchOptions, log: (line: string) => void): Promise<ServiceProcess> {
    const python = findPython(o.python);
    const torchVersion = probeTorchPython(python).torch ?? '0';
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-trainer-'));
    const portFile = path.join(dir, 'port');
    const token = randomBytes(24).toString('hex');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...o.env,
      AGENT0_TRAINER_TOKEN: token,
      PYTHONUNBUFFERED: '1',
      PYTHONPATH: [trainerPythonPath(), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      ...(o.devices !== null ? { CUDA_VISIBLE_DEVICES: o.devices } : {}),
    };
    const flags = [
      '--port',
      '0',
      '--port-file',
      portFile,
      '--api-key-env',
      'AGENT0_TRAINER_TOKEN',
      '--parent-pid',
      String(process.pid),
      ...o.args,
    ];
    const useTorchrun =
      o.launcher === 'torchrun' || (o.launcher === 'auto' && o.nproc > 1 && Number.parseInt(torchVersion, 10) >= 2);
    const ranks: ChildProcess[] = [];
    if (useTorchrun || o.nproc === 1) {
      const args = useTorchrun
        ? [
            '-m',
            'torch.distributed.run',
            '--nproc-per-node',
            String(o.nproc),
            '--master-port',
            String(await freePort()),
            '-m',
            'agent0_trainer',
            ...flags,
          ]
        : ['-m', 'agent0_trainer', ...flags];
      ranks.push(spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
    } else {
      const master = String(await freePort());
      for (let r = 0; r < o.nproc; r++) {
        ranks.push(
          spawn(python, ['-m', 'agent0_trainer', ...flags], {
            env: {
              ...env,
              RANK: String(r),
              LOCAL_RANK: String(r),
              WORLD_SIZE: String(o.nproc),
              MASTER_ADDR: '127.0.0.1',
              MASTER_PORT: master,
            },
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true,
          }),
        );
      }
    }
    const svc = new ServiceProcess(token, ranks, python);
    ranks.forEach((child, r) => svc.watch(child, r, log));
    const deadline = Date.now() + o.startupTimeoutMs;
    let addr: string | undefined;
    while (!addr) {
      if (svc.exited) {
        await fs.rm(dir, { recursive: true, force: true });
        throw new Error(
          `the trainer service exited during startup (${svc.exitText()}):\n${svc.tail.slice(-15).join('\n')}`,
        );
      }
      if (Date.now() > deadline) {
        svc.kill();
        await fs.rm(dir, { recursive: true, force: true });
        throw new Error(
          `the trainer service did not listen within ${o.startupTimeoutMs} ms (launch.startupTimeoutMs):\n${svc.tail.slice(-15).join('\n')}`,
        );
      }
      addr = await fs.readFile(portFile, 'utf8').then(
        (s) => s.trim(),
        () => undefined,
      );
      if (!addr) await new Promise((r) => setTimeout(r, 100));
    }
    await fs.rm(dir, { recursive: true, force: true });
    svc.address = `http://${addr}`;
    return svc;
  }

  private watch(child: ChildProcess, rank: number, log: (line: string) => void): void {
    let partial = '';
    const onData = (d: Buffer): void => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        if (/listening on|Traceback|Error|exiting/.test(line)) log(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => {
      if (this.exited) return;
      this.exited = { code, signal };
      this.exitReason = `rank ${rank} ${this.exitText()}`;
      for (const l of [...this.exitListeners]) l(this.exitReason);
      this.exitListeners.clear();
      // one rank gone leaves the others blocked in a collective: take them down too
      this.kill();
    });
    child.on('error', (e) => this.tail.push(`spawn error: ${e.message}`));
  }

  private exitText(): string {
    const e = this.exited;
    return e ? (e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`) : 'running';
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Calls `cb` with the reason once any rank exits (at once if one has); returns the unsubscribe. */
  onExit(cb: (why: string) => void): () => void {
    if (this.exitReason !== undefined) {
      cb(this.exitReason);
      return () => undefined;
    }
    this.exitListeners.add(cb);
    return () => this.exitListeners.delete(cb);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    for (const c of this.ranks) {
      if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
      try {
        process.kill(-c.pid, signal);
      } catch {
        c.kill(signal);
      }
    }
  }

  /** Waits up to `ms` for every rank to exit, then kills what is left. */
  async stop(ms: number): Promise<void> {
    const all = Promise.all(
      this.ranks.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => c.once('exit', () => r())),
      ),
    );
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
    if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
      this.kill('SIGKILL');
      await all;
    }
  }
}
