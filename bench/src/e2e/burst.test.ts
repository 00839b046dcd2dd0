import { describe, expect, it } from 'vitest';
import { duplicated } from './burst.ts';
import type { JobEvent } from './client.ts';

const outcome = (status: string, extra: Partial<JobEvent> = {}): JobEvent => ({ type: 'job', job_id: 'j1', status, userId: 'u1', ...extra });

describe('duplicated (a client keying outcomes by job id)', () => {
  it('takes one outcome, and the same outcome once over the socket and once read back by a resync, as one', () => {
    expect(duplicated([outcome('completed')])).toBe(false);
    expect(duplicated([outcome('completed', { connection: 0 }), outcome('completed', { viaResync: true })])).toBe(false);
    expect(duplicated([outcome('completed', { viaResync: true }), outcome('completed', { connection: 1 })])).toBe(false);
  });

  it('counts an outcome delivered twice over one connection of the socket', () => {
    expect(duplicated([outcome('completed', { connection: 1 }), outcome('completed', { connection: 1 })])).toBe(true);
    expect(duplicated([outcome('completed'), outcome('completed')])).toBe(true);
  });

  it('counts outcomes that disagree, whichever way they came', () => {
    expect(duplicated([outcome('completed', { connection: 0 }), outcome('failed', { connection: 1 })])).toBe(true);
    expect(duplicated([outcome('failed'), outcome('completed', { viaResync: true })])).toBe(true);
  });
});
