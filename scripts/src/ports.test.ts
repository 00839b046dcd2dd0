import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralRange, freePort } from './ports.ts';

const listening: Server[] = [];
afterAll(() => Promise.all(listening.map((s) => new Promise((r) => s.close(r)))));

const listen = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      listening.push(s);
      resolve();
    });
  });

describe('dev stack ports', () => {
  it('reads the kernel’s ephemeral range, or assumes Linux’s default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ports-'));
    writeFileSync(join(dir, 'range'), '40000\t50000\n');
    expect(ephemeralRange(join(dir, 'range'))).toEqual([40_000, 50_000]);
    expect(ephemeralRange(join(dir, 'missing'))).toEqual([32_768, 60_999]);
  });

  it('picks distinct ports below the ephemeral range that a part can then listen on', async () => {
    const range = ephemeralRange();
    const ports = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort(range));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(range[0]);
      await listen(port);
    }
  });

  it('falls back to a port from bind(0) when the range leaves no room below it', async () => {
    const port = await freePort([20_500, 60_999]);
    expect(port).toBeGreaterThan(0);
    await listen(port);
  });
});
