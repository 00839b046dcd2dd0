import { describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, collectingLogger, openTestDatabase, testRedis, testStorage } from '../test/deps.ts';
import { createApp } from './app.ts';

describe('request metrics and access logs', () => {
  it('count by route pattern and status, time each request, and log paths without query strings', async () => {
    const cleanups = cleanupStack();
    try {
      const logger = collectingLogger();
      const app = createApp(
        baseDeps({
          redis: await testRedis(cleanups),
          database: await openTestDatabase('pglite', cleanups),
          storage: await testStorage(cleanups),
          log: logger.log,
        }),
      );
      expect((await app.request('/healthz')).status).toBe(200);
      expect((await app.request('/api/status/some-job?token=secret-in-query')).status).toBe(401);
      expect((await app.request('/api/status/other-job')).status).toBe(401);
      expect((await app.request('/api/nowhere')).status).toBe(404);
      const text = await (await app.request('/metrics')).text();
      expect(text).toContain('proteus_api_requests_total{route="/healthz",method="GET",status="200"} 1');
      expect(text).toContain('proteus_api_requests_total{route="/api/status/:job_id",method="GET",status="401"} 2');
      expect(text).toMatch(/proteus_api_requests_total\{route="[^"]*",method="GET",status="404"\} 1/);
      expect(text).toMatch(/proteus_api_request_seconds_count\{route="\/api\/status\/:job_id",method="GET"\} 2/);
      const requests = logger.lines.filter((l) => l.msg === 'request');
      expect(requests.map((l) => l.path)).toContain('/api/status/some-job');
      expect(JSON.stringify(logger.lines)).not.toContain('secret-in-query');
    } finally {
      await cleanups.run();
    }
  }, 60_000);
});
