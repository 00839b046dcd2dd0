/**
 * Each part's own configuration schema, so the deployment files are held to what the code reads:
 * the zod schemas of the Node parts (through loadConfig, exactly as each part starts) and, for
 * the Python worker, its pydantic settings (src/worker_env.py, run in the worker's virtualenv).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { apiConfigSchema } from '@proteus/api/config';
import { arbitratorConfigSchema } from '@proteus/arbitrator/config';
import { ConfigError, loadConfig } from '@proteus/common';
import { streamSourceConfigSchema, tickSourceConfigSchema } from '@proteus/eventing/source-config';
import { realtimeConfigSchema } from '@proteus/realtime/config';
import { segmentConfigSchema } from '@proteus/segment/config';
import type { z } from 'zod';
import { FUNCTION_ENV, type FunctionName, repoRoot } from './functions.ts';

export const nodeSchemas: Record<FunctionName, z.ZodObject> = {
  api: apiConfigSchema,
  segment: segmentConfigSchema,
  arbitrator: arbitratorConfigSchema,
  realtime: realtimeConfigSchema,
  'stream-source': streamSourceConfigSchema,
  'tick-source': tickSourceConfigSchema,
};

export interface EnvCheck {
  /** variables set that the part does not read */
  unknown: string[];
  /** what the part would say at start: missing required variables, malformed values */
  problems: string[];
}

/** A Node part's environment as its schema sees it; PROTEUS_FUNCTION is the start script's. */
export function checkNodeEnv(part: FunctionName, env: Record<string, string>): EnvCheck {
  const schema = nodeSchemas[part];
  const known = new Set([...Object.keys(schema.shape), FUNCTION_ENV]);
  const unknown = Object.keys(env).filter((name) => !known.has(name));
  try {
    loadConfig(part, schema, env);
    return { unknown, problems: [] };
  } catch (error) {
    if (error instanceof ConfigError) return { unknown, problems: error.problems };
    throw error;
  }
}

export const workerPython = join(repoRoot, 'gpu-worker', '.venv', 'bin', 'python');

/** The worker's settings against several environments at once (one Python start). */
export interface WorkerEnvReport {
  known: string[];
  required: string[];
  /** each setting's default, by variable name */
  defaults: Record<string, string | number>;
  results: EnvCheck[];
}

export function checkWorkerEnvs(envs: Record<string, string>[]): WorkerEnvReport {
  if (!existsSync(workerPython)) {
    throw new Error(`the gpu-worker virtualenv is missing (${workerPython}); \`npm test\` (scripts/bootstrap.sh) makes it`);
  }
  const out = execFileSync(workerPython, [join(repoRoot, 'infra', 'src', 'worker_env.py')], {
    input: JSON.stringify(envs),
    encoding: 'utf8',
    cwd: join(repoRoot, 'gpu-worker'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return JSON.parse(out) as WorkerEnvReport;
}
