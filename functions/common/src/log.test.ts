import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from './log.ts';

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
  });
});
