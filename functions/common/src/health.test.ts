import { describe, expect, it } from 'vitest';
import { runChecks } from './health.ts';

describe('runChecks', () => {
  it('is ok only when every check is, and reports each', async () => {
    const report = await runChecks('api', {
      redis: async () => 'PONG',
      database: async () => {
        throw new Error('connection refused');
      },
    });
    expect(report.status).toBe('error');
    expect(report.checks.redis).toMatchObject({ status: 'ok', detail: 'PONG' });
    expect(report.checks.database).toMatchObject({ status: 'error', error: 'connection refused' });
  });

  it('times out a check that hangs', async () => {
    const report = await runChecks('api', { slow: () => new Promise(() => {}) }, 50);
    expect(report.checks.slow).toMatchObject({ status: 'error', error: 'no answer within 50 ms' });
  });
});
