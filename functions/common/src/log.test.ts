import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferedWriter, createLogger, redactText } from './log.ts';

describe('logger', () => {
  it('writes one JSON object per line with part, level and fields', () => {
    const lines: string[] = [];
    createLogger('api', { write: (l) => lines.push(l) })
      .child({ requestId: 'r1' })
      .info('hello', { n: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', part: 'api', msg: 'hello', requestId: 'r1', n: 1 });
  });

  it('drops levels below the threshold', () => {
    const lines: string[] = [];
    const log = createLogger('api', { level: 'warn', write: (l) => lines.push(l) });
    log.debug('a');
    log.info('b');
    log.warn('c');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['c']);
  });

  it('never writes passwords, tokens or presigned URLs', () => {
    const lines: string[] = [];
    const log = createLogger('api', { write: (l) => lines.push(l) });
    log.info('login', {
      password: 'hunter2',
      headers: { authorization: 'Bearer eyJhbGciOi.abc.def' },
      redis: 'redis://user:s3cret@h:6379/0',
      url: 'http://s3/b/k.png?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F&X-Amz-Signature=deadbeef',
      note: 'sent Bearer abc.def.ghi',
      error: new Error('connect to postgres://app:pw@db/x failed'),
    });
    const text = lines.join('');
    for (const secret of ['hunter2', 'eyJhbGciOi', 's3cret', 'deadbeef', 'AKIA', 'abc.def.ghi', ':pw@']) expect(text).not.toContain(secret);
    expect(text).toContain('redis://user:***@h:6379/0');
  });

  it('redactText keeps ordinary text', () => {
    expect(redactText('queue depth 12 at http://h:1/x?a=1')).toBe('queue depth 12 at http://h:1/x?a=1');
    expect(redactText('users/u1/person/p_verified.jpg')).toBe('users/u1/person/p_verified.jpg');
  });

  it('redactText finds each secret by the character its pattern needs, alone in a string too', () => {
    expect(redactText('amqp://guest:guest@rabbit')).toBe('amqp://guest:***@rabbit');
    expect(redactText('?token=abc')).toBe('?token=***');
    expect(redactText('Bearer abc')).toBe('Bearer ***');
  });

  it('replaces a secret field every time it comes, and only those', () => {
    const lines: string[] = [];
    const log = createLogger('api', { write: (l) => lines.push(l) });
    for (let i = 0; i < 3; i++) log.info('again', { apiKey: `k${i}`, jobId: `j${i}` });
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([0, 1, 2].map((i) => ({ apiKey: '***', jobId: `j${i}` })));
  });

  it('writes the lines of one event loop turn to stdout together, in order', async () => {
    const writes: string[] = [];
    const write = bufferedWriter((text) => writes.push(text));
    write('a\n');
    write('b\n');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    write('c\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\n', 'c\n']);
  });

  it('writes what is pending when the process exits at once', () => {
    const script = `import { createLogger } from ${JSON.stringify(join(import.meta.dirname, 'log.ts'))};
      const log = createLogger('t');
      log.info('first');
      log.error('last words', { code: 7 });
      process.exit(3);`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(3);
    expect(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).msg),
    ).toEqual(['first', 'last words']);
  });
});
