/**
 * POST /segment: image bytes in, PNG out, synchronously (curl, and the original design's
 * TAILOR_URL callers). `?purpose=garment` (default) answers the garment cut out on transparency;
 * `?purpose=person-mask` the inpainting mask of a person photo. `?classes=4,6` picks the garment
 * classes (default SEGMENT_CLASSES). Bad input is a problem+json naming the reason and the limit.
 *
 *   curl --data-binary @shirt.jpg -o shirt.png http://localhost:8082/segment
 */
import { problem } from '@proteus/common';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.ts';
import { Busy } from '../gate.ts';
import { describeSelectable, parseClasses } from '../labels.ts';
import { SegmentRejected } from '../rejected.ts';
import type { Purpose } from '../segmentation.ts';

const purposes: Purpose[] = ['garment', 'person-mask'];

export const segment = new Hono<AppEnv>().post(
  '/',
  async (c, next) => {
    const { maxBytes } = c.get('deps').segmentation.settings.limits;
    // counts bytes as they arrive: a chunked upload has no content-length to trust
    return bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw problem(413, 'image-too-large', 'Image too large', { detail: `more than ${maxBytes} bytes` });
      },
    })(c, next);
  },
  async (c) => {
    const { segmentation, metrics, log } = c.get('deps');
    const purposeParam = c.req.query('purpose') ?? 'garment';
    if (!purposes.includes(purposeParam as Purpose)) {
      throw problem(400, 'invalid-request', 'Invalid request', {
        detail: `purpose ${JSON.stringify(purposeParam)} is not one of ${purposes.join(', ')}`,
        errors: [{ path: 'purpose', message: `expected ${purposes.join(' or ')}` }],
      });
    }
    const purpose = purposeParam as Purpose;
    let classes: number[] | undefined;
    const classesParam = c.req.query('classes');
    if (classesParam !== undefined) {
      try {
        classes = parseClasses(classesParam);
      } catch (error) {
        throw problem(400, 'invalid-request', 'Invalid request', {
          detail: (error as Error).message,
          errors: [{ path: 'classes', message: `expected a comma-separated list of ${describeSelectable()}` }],
        });
      }
    }
    const started = performance.now();
    const count = (outcome: string) => metrics.outcomes.inc({ via: 'http', purpose, outcome });
    try {
      const result = await segmentation.segment(new Uint8Array(await c.req.arrayBuffer()), { purpose, classes });
      count('completed');
      metrics.latency.observe({ via: 'http', purpose }, (performance.now() - started) / 1000);
      const { segmenter } = segmentation;
      const headers: Record<string, string> = {
        'content-type': 'image/png',
        'cache-control': 'no-store',
        'x-proteus-model': `${segmenter.modelId} ${segmenter.dtype}${segmenter.fallback ? ' (tiny random fallback: the output is meaningless)' : ''}`,
      };
      if (result.crop) headers['x-proteus-crop'] = `${result.crop.x},${result.crop.y},${result.crop.width},${result.crop.height}`;
      return c.body(new Uint8Array(result.png), 200, headers);
    } catch (error) {
      if (error instanceof SegmentRejected) {
        count(error.reason);
        throw problem(error.status, error.reason, 'Image not segmented', { detail: error.detail });
      }
      if (error instanceof Busy) {
        count('busy');
        throw problem(503, 'busy', 'Busy', { detail: error.message }, { 'retry-after': String(error.retryAfterSeconds) });
      }
      count('error');
      log.error('segmentation failed', { error, purpose });
      throw error;
    }
  },
);
