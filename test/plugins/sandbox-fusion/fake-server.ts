import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake does with one request. */
export type Behavior =
  'ok' | 'refuse' | 'hang' | '500' | '503' | 'malformed' | 'sandbox-error' | 'sandbox-error-varying' | 'bad-shape';

export interface FakeSandbox {
  url: string;
  /** Request bodies received, in order (including those answered with a fault). */
  received: Record<string, unknown>[];
  /** Faults to apply to the next requests, consumed first; then `fallback` applies. */
  plan: Behavior[];
  fallback: Behavior;
  /** Delay before an 'ok' answer, in ms. */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * A SandboxFusion stand-in speaking the real `/run_code` shape. It "runs" a tiny language so tests
 * are deterministic without Python: `print(<int or 'string'>)` lines print, `raise X` fails with a
 * traceback on stderr, `while True:` exceeds the time limit, `flood(N)` prints N characters,
 * `compile_error` fails compilation, `runner_crash` is a sandbox-side run error, `exit(N)` exits
 * with N and no stderr, `kill(N)` dies of signal N (return code -N, as SandboxFusion's asyncio
 * reports it), `cat('F')` prints file F of the request's `files`, `write('F', 'T')` creates F,
 * which comes back base64 in `files` when `fetch_files` names it.
 */
export async function startFakeSandbox(): Promise<FakeSandbox> {
  const sockets = new Set<import('node:net').Socket>();
  const fake: FakeSandbox = {
    url: '',
    received: [],
    plan: [],
    fallback: 'ok',
    delayMs: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/run_code') {
        res.writeHead(404).end('not found');
        return;
      }
      const parsed = JSON.parse(body) as Record<string, unknown>;
      fake.received.push(parsed);
      const behavior = fake.plan.shift() ?? fake.fallback;
      const send = (status: number, text: string) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(text);
      switch (behavior) {
        case 'refuse':
          req.socket.destroy();
          return;
        case 'hang':
          return;
        case '500':
          send(500, '{"detail":"internal error"}');
          return;
        case '503':
          send(503, 'upstream busy');
          return;
        case 'malformed':
          send(200, '{"status": "Success", "run_result": {');
          return;
        case 'bad-shape':
          send(200, JSON.stringify({ status: 'Weird' }));
          return;
        case 'sandbox-error':
          send(
            200,
            JSON.stringify({
              status: 'SandboxError',
              message: 'container crashed',
              compile_result: null,
              run_result: null,
            }),
          );
          return;
        case 'sandbox-error-varying':
          send(
            200,
            JSON.stringify({
              status: 'SandboxError',
              message: `cgroup setup failed: ${['EBUSY', 'EAGAIN', 'ENOMEM', 'EIO'][fake.received.length % 4]}`,
              compile_result: null,
              run_result: null,
            }),
          );
          return;
        case 'ok':
          setTimeout(() => send(200, JSON.stringify(execute(parsed))), fake.delayMs);
          return;
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function execute(req: Record<string, unknown>) {
  const code = String(req.code);
  const given = (req.files ?? {}) as Record<string, string>;
  const written: Record<string, string> = {};
  const fetched = () =>
    Object.fromEntries(
      ((req.fetch_files ?? []) as string[])
        .filter((f) => f in written || f in given)
        .map((f) => [f, written[f] ?? (given[f] as string)]),
    );
  let stdout = '';
  const result = (status: string, rc: number | null, stderr: string, runStatus = 'Finished') => ({
    status,
    message: '',
    compile_result: null,
    executor_pod_name: null,
    files: fetched(),
    run_result: { status: runStatus, execution_time: 0.01, return_code: rc, stdout, stderr },
  });
  for (const line of code.split('\n')) {
    const p = /^print\((?:(-?\d+)|'([^']*)')\)$/.exec(line.trim());
    const r = /^raise (\w+)/.exec(line.trim());
    const f = /^flood\((\d+)\)$/.exec(line.trim());
    const x = /^(exit|kill)\((\d+)\)$/.exec(line.trim());
    const c = /^cat\('([^']+)'\)$/.exec(line.trim());
    const w = /^write\('([^']+)', '([^']*)'\)$/.exec(line.trim());
    if (x) return result('Failed', x[1] === 'exit' ? Number(x[2]) : -Number(x[2]), '');
    if (c) {
      if (!(c[1]! in given)) return result('Failed', 1, `FileNotFoundError: ${c[1]}\n`);
      stdout += Buffer.from(given[c[1]!]!, 'base64').toString('utf8');
    } else if (w) written[w[1]!] = Buffer.from(w[2]!, 'utf8').toString('base64');
    else if (p) stdout += `${p[1] ?? p[2]}\n`;
    else if (f) stdout += 'y'.repeat(Number(f[1]));
    else if (r)
      return result(
        'Failed',
        1,
        `Traceback (most recent call last):\n  File "/tmp/x.py", line 1, in <module>\n${r[1]}: boom\n`,
      );
    else if (line.trim() === 'while True:') return result('Failed', null, '', 'TimeLimitExceeded');
    else if (line.trim() === 'compile_error') {
      return {
        status: 'Failed',
        message: '',
        compile_result: {
          status: 'Finished',
          execution_time: 0.2,
          return_code: 1,
          stdout: '',
          stderr: 'main.cpp:1: error: expected ;\n',
        },
        run_result: null,
      };
    } else if (line.trim() === 'runner_crash') {
      return { ...result('SandboxError', null, 'runner died'), message: '' };
    }
  }
  return result('Success', 0, '');
}
