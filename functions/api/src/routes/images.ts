/**
 * /api/images: presigned uploads and downloads, and the check an upload passes before a job
 * uses it. Mounted behind the auth middleware: `c.get('auth')` names the caller.
 */
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { presignDownload, presignUpload, uploadKinds } from '../images/presign.ts';
import { imageContentTypes } from '../images/types.ts';
import { verifyImage } from '../images/verify.ts';
import { json, jsonRequests, query } from '../validation.ts';

// queries tolerate unknown parameters (cache busters); bodies do not
export const uploadQuery = z.object({ kind: z.enum(uploadKinds), contentType: z.enum(imageContentTypes) });
export const downloadQuery = z.object({ key: z.string().min(1).max(1024) });
export const verifyBody = z.strictObject({ key: z.string().min(1).max(1024), expectedType: z.enum(imageContentTypes).optional() });

// fail closed: a missing auth middleware is a deployment bug, never an anonymous upload
const callerRequired = createMiddleware<AppEnv>(async function callerRequired(c, next) {
  if (!c.get('auth')) throw new Error('the images router is mounted without the auth middleware');
  await next();
});

export const images = new Hono<AppEnv>()
  // who asks is settled before any query or body is read
  .use(callerRequired)
  .use(jsonRequests)
  .get('/presignedUpUrl', query(uploadQuery), async (c) => {
    const { storage, images: settings } = c.get('deps');
    return c.json(await presignUpload(storage, settings, { userId: c.get('auth').userId, ...c.req.valid('query') }));
  })
  .get('/presignedDownloadUrl', query(downloadQuery), async (c) => {
    const { storage, images: settings } = c.get('deps');
    return c.json(await presignDownload(storage, settings, { userId: c.get('auth').userId, key: c.req.valid('query').key }));
  })
  .post('/verify', json(verifyBody), async (c) => {
    const { storage, images: settings, verifiedImages } = c.get('deps');
    return c.json(await verifyImage(storage, settings, { userId: c.get('auth').userId, ...c.req.valid('json') }, verifiedImages));
  });
