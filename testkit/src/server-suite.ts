/**
 * The checks every part's process must pass, as one vitest suite: a malformed variable stops it
 * at start (exit 2, naming the variable, never echoing a secret), a taken port stops it with
 * exit 1 saying so, and it starts, answers its health path and exits 0 on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLine, occupiedPort, runPart, startPart } from './process.ts';

export interface ServerSuite {
  part: string;
  packageDir: string;
  entry?: string;
  /** a complete, valid environment on the test services */
  goodEnv: () => Promise<Record<string, string>>;
  /** [variable the message must name, variables that break it] */
  badEnvs: [string, Record<string, string>][];
  healthPath: string;
  /** more checks while it runs, before SIGTERM; `listening` is its 'listening' log line */
  whileRunning?: (url: string, listening: Record<string, unknown>) => Promise<(() => Promise<void>) | undefined>;
  cleanup?: () => Promise<void>;
}

const secretNames = /SECRET|PASSWORD|TOKEN/;

export function serverProcessSuite({ part, packageDir, entry = 'src/server.ts', goodEnv, badEnvs, healthPath, whileRunning, cleanup }: ServerSuite): void {
  let env: Record<string, string>;
  const closers: (() => unknown)[] = [];
  beforeAll(async () => {
    env = await goodEnv();
  }, 30_000);
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await cleanup?.();
  });

  describe(`${part} process`, () => {
    it.each(badEnvs)(
      'exits 2 naming %s when given %o',
      async (name, bad) => {
        const { code, stderr } = await runPart(packageDir, entry, { ...env, ...bad });
        expect(code).toBe(2);
        expect(stderr).toContain(`${part}: invalid configuration`);
        expect(stderr).toContain(`${name}:`);
        for (const [k, v] of Object.entries(env)) if (secretNames.test(k)) expect(stderr).not.toContain(v);
      },
      30_000,
    );

    it('exits 1 saying the port is in use when PORT is taken', async () => {
      const taken = await occupiedPort();
      closers.push(taken.close);
      const { code, stdout, stderr } = await runPart(packageDir, entry, { ...env, PORT: String(taken.port) });
      expect(code).toBe(1);
      expect(stdout + stderr).toContain(`port ${taken.port} on 127.0.0.1 is already in use`);
    }, 30_000);

    it(`starts, answers ${healthPath}, and exits 0 on SIGTERM`, async () => {
      const started = startPart(packageDir, entry, env);
      closers.push(() => started.child.exitCode === null && started.child.kill('SIGKILL'));
      const listening = await logLine(started, 'listening');
      const url = String(listening.url);
      expect((await fetch(new URL(healthPath, url))).status).toBe(200);
      const afterStop = await whileRunning?.(url, listening);
      started.child.kill('SIGTERM');
      expect(await started.exited).toEqual({ code: 0, signal: null });
      await afterStop?.();
    }, 30_000);
  });
}
