/**
 * The compose file runs the same parts with the same routes: each part's environment passes its
 * schema, the stream source feeds the sinks the topology names, and nginx mirrors the ingress.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sinkUrlEnv, streamRoutes, tickRoutes } from '@proteus/eventing';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FUNCTION_ENV, type FunctionName, functionNames, repoRoot } from '../src/functions.ts';
import { checkNodeEnv, checkWorkerEnvs } from '../src/parts.ts';

const dir = join(repoRoot, 'infra', 'compose');

interface ComposeService {
  image: string;
  environment?: Record<string, string | number>;
  depends_on?: string[] | Record<string, unknown>;
  profiles?: string[];
  deploy?: { resources?: { reservations?: { devices?: { driver: string; capabilities: string[] }[] } } };
}

/** `${NAME:-default}` as compose expands it with NAME unset; `$$` is a literal `$`. */
function interpolate(text: string): string {
  return text.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$$') return '$';
    if (fallback === undefined) throw new Error(`\${${name}} has no default: the compose file must run without a .env`);
    return fallback;
  });
}

const compose = parse(interpolate(readFileSync(join(dir, 'docker-compose.yml'), 'utf8')), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;
const envOf = (name: string) => Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, String(v)]));
const nodeServices = Object.entries(services).filter(([, s]) => s.image.startsWith('proteus/functions'));
const workerServices = Object.entries(services).filter(([, s]) => s.image.startsWith('proteus/gpu-worker'));

describe('docker-compose.yml', () => {
  it('runs every part, each service named after its part', () => {
    expect(nodeServices.map(([name, s]) => [name, s.environment?.[FUNCTION_ENV]]).sort()).toEqual(functionNames.map((n) => [n, n]).sort());
    expect(workerServices.map(([name]) => name).sort()).toEqual(['gpu-worker', 'gpu-worker-cuda']);
  });

  it.each(functionNames)('gives %s only variables its schema knows, and ones it starts with', (part: FunctionName) => {
    expect(checkNodeEnv(part, envOf(part))).toEqual({ unknown: [], problems: [] });
  });

  it('gives both workers valid settings: warp by default, catvton on one NVIDIA GPU in the gpu profile', () => {
    const check = checkWorkerEnvs(workerServices.map(([name]) => envOf(name)));
    expect(check.results).toEqual([
      { unknown: [], problems: [] },
      { unknown: [], problems: [] },
    ]);
    expect(envOf('gpu-worker').WORKER_ENGINE).toBe('warp');
    expect(services['gpu-worker']?.profiles).toBeUndefined();
    expect(services['gpu-worker-cuda']?.profiles).toEqual(['gpu']);
    expect(services['gpu-worker-cuda']?.deploy?.resources?.reservations?.devices).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
  });

  it("feeds every stream route's sink, and ticks the arbitrator", () => {
    const source = envOf('stream-source');
    const routes = source.STREAM_SOURCE_ROUTES?.split(',') ?? streamRoutes.map((r) => r.name);
    expect(routes.sort()).toEqual(streamRoutes.map((r) => r.name).sort());
    for (const route of streamRoutes) {
      expect(source[sinkUrlEnv[route.sink.part]], route.name).toBe(`http://${route.sink.part}:${envOf(route.sink.part).PORT}`);
    }
    const tick = tickRoutes[0] as (typeof tickRoutes)[number];
    expect(envOf('tick-source')[sinkUrlEnv[tick.sink.part]]).toBe(`http://${tick.sink.part}:${envOf(tick.sink.part).PORT}`);
    expect(envOf('api').TAILOR_URL).toBe(`http://segment:${envOf('segment').PORT}`);
  });

  it('pins third-party images and waits only on services it defines', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!s.image.startsWith('proteus/')) expect(s.image, name).toMatch(/:\d[\w.-]*$/);
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of deps) expect(Object.keys(services), `${name} depends on ${d}`).toContain(d);
    }
  });

  it('routes like the ingress: /updates to realtime with long timeouts, the internal routes refused, the rest to the api', () => {
    const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8');
    const block = (location: string) => new RegExp(`location ${location.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
    expect(block('= /updates')).toContain(`proxy_pass http://realtime:${envOf('realtime').PORT};`);
    expect(block('= /updates')).toContain('proxy_read_timeout 3600s;');
    expect(block('/')).toContain(`proxy_pass http://api:${envOf('api').PORT};`);
    const refused = /location ~ (\S+) \{\s*return 403;\s*\}/.exec(conf)?.[1] ?? '(?!)';
    for (const path of ['/events', '/metrics', '/healthz', '/events/x']) expect(new RegExp(refused).test(path), path).toBe(true);
    for (const path of ['/api/events', '/eventsource', '/']) expect(new RegExp(refused).test(path), path).toBe(false);
    expect(services.edge?.image).toMatch(/^nginx:/);
  });
});

describe('compose interpolation', () => {
  it('takes defaults, keeps $$ literal, and refuses a variable without a default', () => {
    const ref = (inner: string) => `$\{${inner}}`; // compose's syntax, not a template literal
    expect(interpolate(`a ${ref('X:-b')} $$Y ${ref('Z-c')}`)).toBe('a b $Y c');
    expect(() => interpolate(ref('SECRET'))).toThrow(/no default/);
  });
});
