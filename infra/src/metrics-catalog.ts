/**
 * The Prometheus metrics the parts define, read from their source (TypeScript prom-client and the
 * worker's prometheus_client), so the dashboard can be held to them without starting anything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './functions.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';
export interface MetricDefinition {
  name: string;
  type: MetricType;
  file: string;
}

const sourceDirs = [
  { dir: 'functions', ext: '.ts' },
  { dir: 'eventing/src', ext: '.ts' },
  { dir: 'gpu-worker/proteus_worker', ext: '.py' },
];

function files(dir: string, ext: string): string[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext) && !/\.test\.ts$|^test_/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => !path.includes('node_modules'));
}

/**
 * `new Counter({ name: 'proteus_x' ...` or `gauge('proteus_x', ...)` (TS) and `Counter("proteus_x", ...`
 * (Python). A name built
 * from a template (`proteus_tick_${key}_total`) is expanded with the keys of the file's
 * `['key', 'help']` pairs, which is how the tick source declares its three counters.
 */
export function metricDefinitions(): MetricDefinition[] {
  const found: MetricDefinition[] = [];
  for (const { dir, ext } of sourceDirs) {
    for (const file of files(dir, ext)) {
      const text = readFileSync(file, 'utf8');
      // TS: `new Gauge({ name: 'proteus_x'` or a local helper `gauge('proteus_x', help)`
      const patterns =
        ext === '.ts'
          ? [
              /new (Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*[`'"](proteus_[^`'"]+)[`'"]/g,
              /\b(counter|gauge|histogram|summary)\(\s*'(proteus_[a-z0-9_]+)'/g,
            ]
          : [/\b(Counter|Gauge|Histogram|Summary)\(\s*"(proteus_[a-z0-9_]+)"/g];
      for (const match of patterns.flatMap((pattern) => [...text.matchAll(pattern)])) {
        const type = (match[1] as string).toLowerCase() as MetricType;
        const name = match[2] as string;
        const names = name.includes('${')
          ? [...text.matchAll(/\[\s*'([a-z]+)',\s*'[^']*'\s*\]/g)].map((k) => name.replace(/\$\{\w+\}/, k[1] as string))
          : [name];
        for (const n of names) found.push({ name: n, type, file: file.slice(repoRoot.length + 1) });
      }
    }
  }
  return found;
}
