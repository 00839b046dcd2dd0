/**
 * Serves the built web app (dev; in the cluster the ingress serves it). Unknown paths that
 * are not API paths get index.html so the app's own routes work on reload.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.task': 'application/octet-stream',
  '.woff2': 'font/woff2',
};

export function webApp(root: string) {
  // resolve() drops a trailing slash: `dist/` must not become `dist//`, which no file path starts with
  const dir = resolve(root);
  const base = dir.endsWith(sep) ? dir : dir + sep;
  async function file(path: string): Promise<{ body: Buffer; type: string } | undefined> {
    const full = normalize(join(base, path));
    if (!full.startsWith(base)) return undefined;
    try {
      if (!(await stat(full)).isFile()) return undefined;
      return { body: await readFile(full), type: types[extname(full)] ?? 'application/octet-stream' };
    } catch {
      return undefined;
    }
  }
  return new Hono<AppEnv>().get('*', async (c, next) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(c.req.url).pathname);
    } catch {
      // malformed percent-encoding names no file: a 404, not a 500
      return next();
    }
    if (path.startsWith('/api/') || path === '/api' || path === '/events') return next();
    const found = (path !== '/' && (await file(path))) || (await file('index.html'));
    if (!found) return next();
    const immutable = path.startsWith('/assets/');
    return c.body(new Uint8Array(found.body), 200, {
      'content-type': found.type,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });
}
