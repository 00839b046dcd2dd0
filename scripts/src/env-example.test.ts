/** `.env.example` lists every variable any TypeScript part reads (the worker's test checks its own). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiConfigSchema } from '@proteus/api/config';
import { arbitratorConfigSchema } from '@proteus/arbitrator/config';
import { streamSourceConfigSchema, tickSourceConfigSchema } from '@proteus/eventing/source-config';
import { realtimeConfigSchema } from '@proteus/realtime/config';
import { segmentConfigSchema } from '@proteus/segment/config';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { devConfigSchema } from './dev-config.ts';
import { repoRoot } from './workspaces.ts';

const listed = new Set(
  readFileSync(join(repoRoot, '.env.example'), 'utf8')
    .split('\n')
    .flatMap((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1] ?? []),
);

/** The variable names of a part's schema (through refinements, which wrap the object). */
function names(schema: z.ZodType): string[] {
  let s = schema as unknown as { shape?: Record<string, unknown>; def?: { in?: unknown; schema?: unknown } };
  while (!s.shape && (s.def?.in || s.def?.schema)) s = (s.def.in ?? s.def.schema) as typeof s;
  if (!s.shape) throw new Error('not an object schema');
  return Object.keys(s.shape);
}

const parts: Record<string, z.ZodType> = {
  dev: devConfigSchema,
  api: apiConfigSchema,
  segment: segmentConfigSchema,
  arbitrator: arbitratorConfigSchema,
  realtime: realtimeConfigSchema,
  'stream-source': streamSourceConfigSchema,
  'tick-source': tickSourceConfigSchema,
};

describe('.env.example', () => {
  it.each(Object.entries(parts))('lists every variable %s reads', (_part, schema) => {
    const vars = names(schema);
    expect(vars.length).toBeGreaterThan(2);
    expect(vars.filter((v) => !listed.has(v))).toEqual([]);
  });
});
