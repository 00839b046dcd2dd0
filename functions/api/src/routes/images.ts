/**
 * /api/images: presigned uploads and downloads, and the check an upload passes before a job
 * uses it. Mounted behind the auth middleware: `c.var.auth` names the caller.
 */
import { problem } from '@proteus/common';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { presignDownload, presignUpload, uploadKinds } from '../images/presign.ts';
import { imageContentTypes } from '../images/types.ts';
import { verifyImage } from '../images/verify.ts';

// queries tolerate unknown parameters (cache busters); bodies do not
const uploadQuery = z.object({ kind: z.enum(uploadKinds), contentType: z.enum(imageContentTypes) });
const downloadQuery = z.object({ key: z.string().min(1).max(1024) });
const verifyBody = z.strictObject({ key: z.string().min(1).max(1024), expectedType: z.enum(imageContentTypes).optional() });

function invalid(detail: string, errors?: { path: string; message: string }[]) {
  return problem(400, 'invalid-request', 'Invalid request', { detail, ...(errors ? { errors } : {}) });
}

/** Parses `input` or throws a 400 naming every bad field and why. */
function parse<T>(schema: z.ZodType<T>, input: unknown, where: 'query' | 'body'): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    // an unknown field is reported once per name
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ path: k, message: 'unknown field' }));
    return [{ path: issue.path.join('.') || where, message: issue.message }];
  });
  throw invalid(`invalid ${where}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}

function callerOf(c: Context<AppEnv>): string {
  const auth = c.get('auth');
  // fail closed: a missing auth middleware is a deployment bug, never an anonymous upload
  if (!auth) throw new Error('the images router is mounted without the auth middleware');
  return auth.userId;
}

const verifyBodyLimit = bodyLimit({
  maxSize: 4096,
  onError: () => {
    throw problem(413, 'request-too-large', 'Request too large', { detail: 'at most 4096 bytes' });
  },
});

export const images = new Hono<AppEnv>()
  .get('/presignedUpUrl', async (c) => {
    const userId = callerOf(c);
    const { kind, contentType } = parse(uploadQuery, c.req.query(), 'query');
    const { storage, images: settings } = c.var.deps;
    return c.json(await presignUpload(storage, settings, { userId, kind, contentType }));
  })
  .get('/presignedDownloadUrl', async (c) => {
    const userId = callerOf(c);
    const { key } = parse(downloadQuery, c.req.query(), 'query');
    const { storage, images: settings } = c.var.deps;
    return c.json(await presignDownload(storage, settings, { userId, key }));
  })
  .post('/verify', verifyBodyLimit, async (c) => {
    const userId = callerOf(c);
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      throw invalid('the body is not valid JSON');
    }
    const { key, expectedType } = parse(verifyBody, body, 'body');
    const { storage, images: settings } = c.var.deps;
    return c.json(await verifyImage(storage, settings, { userId, key, expectedType }));
  });
