import { processGone, waitFor } from '@proteus/testkit';
import { describe, expect, it } from 'vitest';
import { createSupervisor, formatLine } from './supervisor.ts';

const nodePart = (name: string, script: string, extra: object = {}) => ({
  name,
  command: process.execPath,
  args: ['-e', script],
  cwd: process.cwd(),
  env: { PATH: process.env.PATH ?? '' },
  ...extra,
});

const gone = processGone;

describe('formatLine', () => {
  it('compacts JSON log lines and passes other lines through', () => {
    expect(formatLine('{"time":"2026-11-29T01:02:03.000Z","level":"info","part":"api","msg":"listening","url":"http://x","n":1}')).toBe(
      '01:02:03 info  listening url=http://x n=1',
    );
    expect(formatLine('plain text')).toBe('plain text');
    expect(formatLine('{not json')).toBe('{not json');
  });
});

describe('supervisor', () => {
  it('prefixes output and reports a part that exits on its own, with its last lines', async () => {
    const out: string[] = [];
    const supervisor = createSupervisor({ write: (s) => out.push(s), color: false });
    const exited = new Promise<[string, number | null, string[]]>((resolve) => supervisor.onExit((p, code) => resolve([p.spec.name, code, p.tail])));
    supervisor.start(nodePart('crasher', 'console.log("about to fail"); process.exit(3)'));
    const [name, code, tail] = await exited;
    expect([name, code]).toEqual(['crasher', 3]);
    expect(tail).toContain('about to fail');
    expect(out.join('')).toContain('crasher       | about to fail');
  });

  it('stops every process group, grandchildren included, and services last', async () => {
    const supervisor = createSupervisor({ write: () => {}, color: false });
    let unexpected = false;
    supervisor.onExit(() => {
      unexpected = true;
    });
    // a part that ignores SIGTERM and has a child of its own
    const stubborn = supervisor.start(
      nodePart(
        'stubborn',
        `const c = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
         console.log('grandchild ' + c.pid); process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);`,
      ),
    );
    const order: string[] = [];
    const service = supervisor.start(nodePart('service', 'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)', { stopLast: true }));
    service.exited.then(() => order.push('service'));
    stubborn.exited.then(() => order.push('stubborn'));
    const grandchild = await new Promise<number>((resolve) => {
      const timer = setInterval(() => {
        const line = stubborn.tail.find((l) => l.startsWith('grandchild '));
        if (line) {
          clearInterval(timer);
          resolve(Number(line.split(' ')[1]));
        }
      }, 20);
    });
    await supervisor.stopAll(300);
    expect(unexpected).toBe(false);
    expect(order).toEqual(['stubborn', 'service']);
    expect(gone(stubborn.child.pid!)).toBe(true);
    expect(gone(service.child.pid!)).toBe(true);
    await waitFor(() => gone(grandchild), { timeoutMs: 5000, what: `grandchild ${grandchild} to be gone` });
  });

  it('waitHealthy fails fast when the part exits first', async () => {
    const supervisor = createSupervisor({ write: () => {}, color: false });
    supervisor.onExit(() => {});
    const part = supervisor.start(nodePart('dies', 'process.exit(1)', { healthUrl: 'http://127.0.0.1:1/health' }));
    await expect(supervisor.waitHealthy(part, 5000)).rejects.toThrow(/dies exited \(code 1\) before it was healthy/);
  });
});
