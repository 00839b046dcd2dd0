/**
 * Starts a Hono app on Node: a clear message when the port is taken, and on SIGTERM/SIGINT
 * stops accepting, runs the part's own cleanup, then exits.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Env, Hono } from 'hono';
import type { Logger } from './log.ts';

export interface Running {
  port: number;
  url: string;
  close(): Promise<void>;
}

type Server = ReturnType<typeof serve>;

export function listen<E extends Env>(app: Hono<E>, { port, host, part }: { port: number; host: string; part: string }): Promise<Running & { server: Server }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
      const url = `http://${host}:${info.port}`;
      resolve({
        server,
        port: info.port,
        url,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new Error(`${part}: port ${port} on ${host} is already in use; set PORT to a free port (or 0 to pick one)`));
      } else reject(error);
    });
  });
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits 0 (or 1 if stopping failed or took longer than `graceMs`). */
export function onShutdown(stop: () => Promise<void>, log: Logger, graceMs = 10_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    const timer = setTimeout(() => {
      log.error('shutdown took too long; exiting', { graceMs });
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (error) => {
        log.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  // under the dev supervisor: stop when it is gone (killed with -9, say) instead of lingering
  const supervisor = Number(process.env.PROTEUS_SUPERVISOR_PID);
  if (supervisor > 0) {
    setInterval(() => {
      try {
        process.kill(supervisor, 0);
      } catch {
        handler('SIGTERM');
      }
    }, 1000).unref();
  }
}
