/**
 * `dev.proteus.segment.requested`, transport-free: read the image the event names, segment it,
 * write the PNG, tell the lifecycle stream. Delivery is at-least-once, so everything derives
 * from the jobId: the result key (a re-delivery rewrites the same object) and the ids of the
 * events emitted (the api's sink records each (source, id) once).
 *
 * What the caller must fix (bad bytes, no garment, a missing object) ends the job with
 * `segment.failed` and resolves: the event is handled and must not be retried. What may pass
 * (object storage or Redis unreachable, the function busy) throws: the HTTP shell answers 5xx
 * and the stream source retries.
 */
import { GetObjectCommand, type GetObjectCommandOutput, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Logger } from '@proteus/common';
import type { ObjectStorage } from '@proteus/common/storage';
import { createEvent, keys, type Producer, type ProteusEvent } from '@proteus/eventing';
import { checkSize } from './decode.ts';
import type { SegmentMetrics } from './metrics.ts';
import { type RejectionReason, SegmentRejected } from './rejected.ts';
import type { Purpose, Segmentation } from './segmentation.ts';

export interface RequestDeps {
  storage: ObjectStorage;
  producer: Producer;
  segmentation: Segmentation;
  log: Logger;
  metrics?: SegmentMetrics | undefined;
}

export type RequestOutcome =
  | { status: 'completed'; resultKey: string; eventId: string }
  | { status: 'failed'; reason: RejectionReason; error: string; eventId: string };

/** Where each purpose's result goes: the cleaned garment, or the person's inpainting mask. */
const resultKind = { garment: 'cloth_clean', 'person-mask': 'mask' } as const satisfies Record<Purpose, keys.ObjectKind>;

export function resultKeyOf(data: { userId: string; jobId: string; purpose: Purpose }): string {
  return keys.objectKey(data.userId, resultKind[data.purpose], data.jobId, 'png');
}

const isMissing = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
};

async function readImage(deps: RequestDeps, key: string): Promise<Uint8Array> {
  let object: GetObjectCommandOutput;
  try {
    object = await deps.storage.client.send(new GetObjectCommand({ Bucket: deps.storage.bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) throw new SegmentRejected('image-not-found', `no object ${JSON.stringify(key)}`);
    throw error;
  }
  const limits = deps.segmentation.settings.limits;
  // refused before a byte is read
  if ((object.ContentLength ?? 0) > limits.maxBytes) {
    (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
    checkSize(object.ContentLength ?? 0, limits);
  }
  return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
}

export async function handleSegmentRequest(event: ProteusEvent<'dev.proteus.segment.requested'>, deps: RequestDeps): Promise<RequestOutcome> {
  const { jobId, userId, vtonId, imageKey, purpose } = event.data;
  const log = deps.log.child({ jobId, userId, purpose, eventId: event.id });
  const started = performance.now();
  try {
    const bytes = await readImage(deps, imageKey);
    const result = await deps.segmentation.segment(bytes, { purpose });
    const resultKey = resultKeyOf({ userId, jobId, purpose });
    await deps.storage.client.send(
      new PutObjectCommand({
        Bucket: deps.storage.bucket,
        Key: resultKey,
        Body: result.png,
        ContentType: 'image/png',
        ContentLength: result.png.length,
      }),
    );
    const completed = createEvent('dev.proteus.segment.completed', 'segment', { jobId, userId, vtonId, resultKey }, { id: `${jobId}-completed` });
    await deps.producer.emit(keys.streams.lifecycle, completed);
    deps.metrics?.outcomes.inc({ via: 'event', purpose, outcome: 'completed' });
    deps.metrics?.latency.observe({ via: 'event', purpose }, (performance.now() - started) / 1000);
    log.info('segmented', { resultKey, bytes: result.png.length, width: result.width, height: result.height, ms: result.ms });
    return { status: 'completed', resultKey, eventId: completed.id };
  } catch (error) {
    if (!(error instanceof SegmentRejected)) throw error;
    const failed = createEvent(
      'dev.proteus.segment.failed',
      'segment',
      { jobId, userId, vtonId, error: error.message.slice(0, 2000) },
      { id: `${jobId}-failed` },
    );
    await deps.producer.emit(keys.streams.lifecycle, failed);
    deps.metrics?.outcomes.inc({ via: 'event', purpose, outcome: error.reason });
    log.info('segmentation refused', { reason: error.reason, detail: error.detail });
    return { status: 'failed', reason: error.reason, error: error.message, eventId: failed.id };
  }
}
