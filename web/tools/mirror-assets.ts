/**
 * The Vite plugin that makes the mirror self-hosted: the pose model (a `.task` bundle built
 * here from `@mediapipe/pose`'s TFLite files, pose-task.ts) and MediaPipe's wasm runtime (from
 * `@mediapipe/tasks-vision`) are emitted under /assets/ with content-hashed names (cached
 * immutably) and served by the dev server; the app imports their URLs from
 * `virtual:mirror-assets`. It also switches MediaPipe's telemetry off: tasks-vision posts
 * usage logs to a Google endpoint every minute, with no option to stop it, so the build
 * replaces that URL with one the browser refuses to fetch (the logger then stops itself);
 * the build fails if the URL is not where it was, so an upgrade cannot bring it back unseen.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'vite';
import { buildPoseTask, type PoseVariant } from './pose-task.ts';

export const TELEMETRY_URL = 'https://odml.pa.googleapis.com/v1/log';
/** a URL fetch() rejects at once, without any network traffic */
export const TELEMETRY_OFF = 'about:blank#mediapipe-telemetry-off';
const VIRTUAL = 'virtual:mirror-assets';
const RESOLVED = `\0${VIRTUAL}`;
const WASM_FILES = ['vision_wasm_internal.js', 'vision_wasm_internal.wasm', 'vision_wasm_nosimd_internal.js', 'vision_wasm_nosimd_internal.wasm'];

/** The tasks-vision bundle with its telemetry endpoint replaced; throws when the endpoint is not found exactly once. */
export function withoutTelemetry(code: string, id: string): string {
  const count = code.split(TELEMETRY_URL).length - 1;
  if (count !== 1) {
    throw new Error(
      `${id}: expected MediaPipe's telemetry endpoint ${TELEMETRY_URL} exactly once, found it ${count} times; ` +
        'check how this @mediapipe/tasks-vision version reports usage before upgrading (web/tools/mirror-assets.ts)',
    );
  }
  return code.replace(TELEMETRY_URL, TELEMETRY_OFF);
}

const shortHash = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 10);

interface Asset {
  fileName: string;
  source: () => Uint8Array;
}

/** The transform alone: it must run in the pose worker's bundle, which has plugins of its own. */
export function telemetryOff(): Plugin {
  return {
    name: 'proteus-mediapipe-telemetry-off',
    enforce: 'pre',
    transform(code, id) {
      if (!/@mediapipe[\\/]tasks-vision[\\/]vision_bundle\.m?js/.test(id)) return undefined;
      return { code: withoutTelemetry(code, id), map: null };
    },
  };
}

export function mirrorAssets({ variant = 'lite' as PoseVariant } = {}): Plugin {
  const require = createRequire(import.meta.url);
  // the package exports no package.json: its main file sits at the package root
  const visionDir = dirname(require.resolve('@mediapipe/tasks-vision'));
  const visionVersion = (JSON.parse(readFileSync(join(visionDir, 'package.json'), 'utf8')) as { version: string }).version;
  let cache: { task: Uint8Array; taskPath: string; wasmDir: string; assets: Asset[] } | undefined;

  function assets() {
    if (cache) return cache;
    const task = buildPoseTask(variant);
    const taskPath = `assets/pose_landmarker_${variant}-${shortHash(task)}.task`;
    const wasmDir = `assets/mediapipe-${visionVersion}`;
    const read = (name: string) => () => new Uint8Array(readFileSync(join(visionDir, 'wasm', name)));
    cache = {
      task,
      taskPath,
      wasmDir,
      assets: [{ fileName: taskPath, source: () => task }, ...WASM_FILES.map((name) => ({ fileName: `${wasmDir}/${name}`, source: read(name) }))],
    };
    return cache;
  }

  return {
    name: 'proteus-mirror-assets',
    enforce: 'pre',
    config: () => ({ optimizeDeps: { exclude: ['@mediapipe/tasks-vision'] } }),
    resolveId: (id) => (id === VIRTUAL ? RESOLVED : undefined),
    load(id) {
      if (id !== RESOLVED) return undefined;
      const { taskPath, wasmDir } = assets();
      return `export const poseTaskUrl = ${JSON.stringify(`/${taskPath}`)};\nexport const wasmBaseUrl = ${JSON.stringify(`/${wasmDir}`)};\n`;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split('?')[0]?.replace(/^\//, '');
        const asset = assets().assets.find((a) => a.fileName === path);
        if (!asset) return next();
        res.setHeader('content-type', path?.endsWith('.wasm') ? 'application/wasm' : path?.endsWith('.js') ? 'text/javascript' : 'application/octet-stream');
        res.end(Buffer.from(asset.source()));
      });
    },
    generateBundle() {
      for (const asset of assets().assets) this.emitFile({ type: 'asset', fileName: asset.fileName, source: asset.source() });
    },
  };
}
