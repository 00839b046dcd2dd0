/**
 * The segment function (the original design's Tailor). This foundation answers health and
 * validates the CloudEvents it is subscribed to; SegFormer and `POST /segment` are issue #5.
 */
import { type Logger, notFoundHandler, problem, problemErrorHandler, runChecks } from '@proteus/common';
import type { ObjectStorage } from '@proteus/common/storage';
import { EventValidationError, fromHttp } from '@proteus/eventing';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';

export interface SegmentDeps {
  redis: Redis;
  storage: ObjectStorage;
  log: Logger;
}

export function createApp(deps: SegmentDeps) {
  const app = new Hono();
  app.get('/health', async (c) => {
    const report = await runChecks('segment', {
      redis: async () => deps.redis.ping(),
      objectStorage: async () => {
        await deps.storage.check();
        return `bucket ${deps.storage.bucket}`;
      },
    });
    return c.json(report, report.status === 'ok' ? 200 : 503);
  });
  app.post('/', async (c) => {
    let type: string;
    try {
      type = fromHttp(c.req.raw.headers, await c.req.text()).type;
    } catch (error) {
      if (error instanceof EventValidationError) throw problem(400, 'invalid-event', 'Invalid CloudEvent', { detail: error.message, errors: error.issues });
      throw error;
    }
    if (type !== 'dev.proteus.segment.requested') {
      throw problem(400, 'unexpected-event-type', 'Unexpected event type', { detail: `this sink takes dev.proteus.segment.requested, not ${type}` });
    }
    throw problem(501, 'not-implemented', 'Segmentation is not available yet', { detail: 'the SegFormer model arrives with issue #5' });
  });
  app.notFound(notFoundHandler);
  app.onError(problemErrorHandler(deps.log));
  return app;
}
