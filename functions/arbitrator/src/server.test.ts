import { isolatedRedisUrl } from '@proteus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLine, occupiedPort, runServer, startServer } from '../test/spawn.ts';

let goodEnv: Record<string, string>;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  goodEnv = { REDIS_URL: await isolatedRedisUrl(), HOST: '127.0.0.1', PORT: '0' };
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('arbitrator server.ts', () => {
  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['POLICY_ECONOMY_MAX_DEPTH', { POLICY_VIP_MAX_DEPTH: '60', POLICY_ECONOMY_MAX_DEPTH: '50' }],
  ])(
    'exits 2 naming %s when given %o',
    async (name, bad) => {
      const { code, stderr } = await runServer({ ...goodEnv, ...bad });
      expect(code).toBe(2);
      expect(stderr).toContain('arbitrator: invalid configuration');
      expect(stderr).toContain(`${name}:`);
    },
    30_000,
  );

  it('exits 1 saying the port is in use when PORT is taken', async () => {
    const taken = await occupiedPort();
    cleanups.push(taken.close);
    const { code, stdout, stderr } = await runServer({ ...goodEnv, PORT: String(taken.port) });
    expect(code).toBe(1);
    expect(stdout + stderr).toContain(`port ${taken.port} on 127.0.0.1 is already in use`);
  }, 30_000);

  it('starts, answers /health, and exits 0 on SIGTERM', async () => {
    const started = startServer(goodEnv);
    cleanups.push(() => started.child.exitCode === null && started.child.kill('SIGKILL'));
    const { url } = await logLine(started, 'listening');
    expect((await fetch(new URL('/health', String(url)))).status).toBe(200);
    started.child.kill('SIGTERM');
    expect(await started.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});
