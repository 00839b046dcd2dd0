/**
 * Every environment variable a manifest sets is one the part reads, and each part would start:
 * its own schema (zod for the Node parts, pydantic for the worker) accepts the environment it
 * will see, required variables and the ones Knative injects included. The network-policy labels
 * follow from that environment: a pod may reach Redis, PostgreSQL or the outside only if it is
 * configured to.
 */
import { arbitratorConfigSchema } from '@proteus/arbitrator/config';
import { loadConfig } from '@proteus/common';
import { describe, expect, it } from 'vitest';
import { FUNCTION_ENV, type FunctionName, functionNames } from '../src/functions.ts';
import { find, idOf } from '../src/kustomize.ts';
import { checkNodeEnv, checkWorkerEnvs } from '../src/parts.ts';
import { type Pod, pods, resolveEnv } from '../src/pods.ts';
import { renderings } from './renderings.ts';

/** Images that are not Proteus parts: their variables are their own. */
const thirdParty = /^(redis|postgres|chrislusf\/seaweedfs|nvcr\.io\/nvidia\/k8s-device-plugin):/;

interface Found {
  id: string;
  pod: Pod;
  env: Record<string, string>;
}

function partsOf(r: (typeof all)[number]) {
  const node: (Found & { part: FunctionName })[] = [];
  const workers: Found[] = [];
  const other: string[] = [];
  for (const pod of pods(r.objects)) {
    for (const c of pod.spec.containers) {
      const { env } = resolveEnv(pod, c, r.objects, r.external);
      const id = `${idOf(pod.owner)}/${c.name}`;
      if (c.image.includes('/functions:')) node.push({ id, pod, env, part: env[FUNCTION_ENV] as FunctionName });
      else if (c.image.includes('/gpu-worker:')) workers.push({ id, pod, env });
      else other.push(c.image);
    }
  }
  return { node, workers, other };
}

const all = renderings();

describe.each(all.map((r) => [r.name, r] as const))('%s', (_name, r) => {
  const { node, workers, other } = partsOf(r);

  it('runs every part, and nothing else but Redis, PostgreSQL, SeaweedFS and the device plugin', () => {
    expect(new Set(node.map((n) => n.part))).toEqual(new Set(functionNames));
    expect(workers).toHaveLength(1);
    expect(other.filter((image) => !thirdParty.test(image))).toEqual([]);
  });

  it.each(functionNames)('sets %s only variables its schema knows, and ones it starts with', (part) => {
    for (const found of node.filter((n) => n.part === part)) {
      expect(checkNodeEnv(part, found.env), found.id).toEqual({ unknown: [], problems: [] });
    }
  });

  it('sets the worker only variables its settings know, and ones it starts with', () => {
    const check = checkWorkerEnvs(workers.map((w) => w.env));
    for (const name of check.required) expect(workers[0]?.env, name).toHaveProperty(name);
    expect(check.results).toEqual([{ unknown: [], problems: [] }]);
  });

  it("tells the arbitrator the cluster it steers: KEDA's maximum, the workers' batch window and batch cap", () => {
    const arbitrator = node.find((n) => n.part === 'arbitrator') as Found;
    expect(Object.keys(arbitratorConfigSchema.shape)).toEqual(
      expect.arrayContaining(['POLICY_MAX_REPLICAS', 'POLICY_BATCH_WINDOW_MS', 'POLICY_MAX_BATCH_SIZE']),
    );
    const policy = loadConfig('arbitrator', arbitratorConfigSchema, arbitrator.env);
    const keda = find(r.objects, 'ScaledObject', 'gpu-worker').spec as { maxReplicaCount: number };
    expect(policy.POLICY_MAX_REPLICAS).toBe(keda.maxReplicaCount);
    const { defaults } = checkWorkerEnvs([]);
    const worker = (name: string) => Number((workers[0] as Found).env[name] ?? defaults[name]);
    expect(policy.POLICY_BATCH_WINDOW_MS).toBe(worker('WORKER_BATCH_WINDOW_MS'));
    expect(policy.POLICY_MAX_BATCH_SIZE).toBeLessThanOrEqual(worker('WORKER_MAX_BATCH_SIZE'));
  });

  it('labels each pod for exactly the network access its environment asks for', () => {
    const mismatches: string[] = [];
    for (const found of [...node, ...workers]) {
      const { env, pod } = found;
      const wants = {
        'proteus.dev/redis': env.REDIS_URL ? 'client' : undefined,
        'proteus.dev/postgres': env.DATABASE_URL ? 'client' : undefined,
        // object storage (and the worker's model hub) are outside the cluster
        'proteus.dev/https-egress': env.OBJECT_STORAGE_ENDPOINT ? 'true' : undefined,
        // a source's sink, or the api asking segment: Knative Services, reached through Kourier
        'proteus.dev/knative-client': env.K_SINK || env.TAILOR_URL ? 'true' : undefined,
      };
      for (const [label, value] of Object.entries(wants)) {
        if (pod.labels[label] !== value) mismatches.push(`${found.id}: ${label} is ${pod.labels[label]}, expected ${value}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('the environment checks', () => {
  it('name variables a part does not read, and what stops it from starting', () => {
    expect(checkNodeEnv('arbitrator', { REDIS_URL: 'redis://r:6379', PROTEUS_FUNCTION: 'arbitrator', DATABASE_URL: 'postgres://x@y/z' })).toEqual({
      unknown: ['DATABASE_URL'],
      problems: [],
    });
    const { problems } = checkNodeEnv('realtime', { REDIS_URL: 'http://not-redis' });
    expect(problems.some((p) => p.startsWith('REDIS_URL:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('JWT_SECRET:'))).toBe(true);
  });

  it("flag the worker's unknown variables and malformed values", () => {
    const { results, required } = checkWorkerEnvs([{ REDIS_URL: 'redis://r:6379', WORKER_CATVTON_STEPS: '0', WORKER_BATCH: '4' }, { WORKER_ENGINE: 'warp' }]);
    expect(required).toEqual(['REDIS_URL']);
    expect(results[0]).toEqual({ unknown: ['WORKER_BATCH'], problems: ['WORKER_CATVTON_STEPS: an integer from 1 to 1000'] });
    expect(results[1]?.problems).toEqual(['REDIS_URL: required, a redis:// or rediss:// URL']);
  });
});
