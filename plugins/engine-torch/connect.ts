import type { Logger } from '../../core/index.js';
import { type ServiceInfo, TrainerClient } from './client.js';
import { type LaunchOptions, ServiceProcess } from './launch.js';

/** A client of one service, shared (reference-counted) by the policies and snapshots that use it. */
export interface Connection {
  client: TrainerClient;
  info: ServiceInfo;
  /** The launched process; absent when attached to a service started elsewhere. */
  process?: ServiceProcess;
  refs: number;
  key: string;
}

const open = new Map<string, Promise<Connection>>();

export interface ConnectOptions {
  url: string | null;
  token?: string;
  launch: LaunchOptions;
  requestTimeoutMs: number;
}

/** The connection for these options: an existing one (same url, or same launch options), or a new one. */
export async function connect(o: ConnectOptions, log: Logger): Promise<Connection> {
  const key = o.url ? `url:${o.url}` : `launch:${JSON.stringify(o.launch)}`;
  let p = open.get(key);
  if (!p) {
    p = (async () => {
      let proc: ServiceProcess | undefined;
      if (!o.url) {
        log.info(
          `starting the trainer service (${o.launch.nproc} rank(s)${o.launch.devices !== null ? `, devices ${o.launch.devices}` : ''})`,
        );
        proc = await ServiceProcess.start(o.launch, (line) => log.info(line));
      }
      const client = new TrainerClient({
        url: proc ? proc.url : (o.url as string),
        ...(proc ? { token: proc.token } : o.token ? { token: o.token } : {}),
        requestTimeoutMs: o.requestTimeoutMs,
        ...(proc ? { onDeath: (cb: (why: string) => void) => proc.onExit(cb), tail: () => proc.tail } : {}),
      });
      try {
        const info = await client.info();
        return { client, info, ...(proc ? { process: proc } : {}), refs: 0, key };
      } catch (e) {
        await client.close();
        proc?.kill();
        throw e;
      }
    })();
    open.set(key, p);
    p.catch(() => open.delete(key));
  }
  const c = await p;
  c.refs += 1;
  return c;
}

/** Drops one reference; the last one shuts a launched service down (an attached one keeps running). */
export async function release(c: Connection): Promise<void> {
  c.refs -= 1;
  if (c.refs > 0) return;
  open.delete(c.key);
  if (c.process) {
    if (c.process.alive) await c.client.shutdown();
    await c.process.stop(15_000);
  }
  await c.client.close();
}
