/**
 * The streams, groups and sinks in the manifests (and the compose file) are the ones the dev
 * stack runs: eventing/src/topology.ts and the contract's keys.
 */
import { keys, sinkUrlEnv, streamRoutes, tickRoutes } from '@proteus/eventing';
import { describe, expect, it } from 'vitest';
import type { K8sObject } from '../src/kustomize.ts';
import { isKnativeService, type Pod, pods, resolveEnv, sinkUrl } from '../src/pods.ts';
import { renderings } from './renderings.ts';

interface Sink {
  ref: { apiVersion: string; kind: string; name: string };
  uri?: string;
}

const sourceEnv = (r: (typeof all)[number], p: Pod) => resolveEnv(p, p.spec.containers[0] as Pod['spec']['containers'][0], r.objects, r.external).env;
const all = renderings();

describe.each(all.map((r) => [r.name, r] as const))('%s', (_name, r) => {
  const sources = pods(r.objects).filter((p) => p.owner.kind === 'ContainerSource');
  const streamSources = sources.filter((p) => sourceEnv(r, p).PROTEUS_FUNCTION === 'stream-source');
  const tickSources = sources.filter((p) => sourceEnv(r, p).PROTEUS_FUNCTION === 'tick-source');

  it('runs one stream source per route of the topology, each with exactly that route', () => {
    const routes = streamSources.map((p) => sourceEnv(r, p).STREAM_SOURCE_ROUTES);
    expect(routes.sort()).toEqual(streamRoutes.map((route) => route.name).sort());
  });

  it.each(streamRoutes.map((route) => [route.name, route] as const))('delivers route %s from its stream and group to its sink', (name, route) => {
    const p = streamSources.find((s) => sourceEnv(r, s).STREAM_SOURCE_ROUTES === name) as Pod;
    const annotations = p.owner.metadata.annotations ?? {};
    expect({ stream: annotations['proteus.dev/stream'], group: annotations['proteus.dev/group'] }).toEqual({ stream: route.stream, group: route.group });
    expect(keys.streamGroups[route.stream as keyof typeof keys.streamGroups]).toBe(route.group);
    const sink = (p.owner.spec as { sink: Sink }).sink;
    expect(sink.ref).toEqual({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: route.sink.part });
    expect(r.objects.some((o) => isKnativeService(o) && o.metadata.name === route.sink.part)).toBe(true);
    const url = new URL(sourceEnv(r, p).K_SINK ?? '');
    expect(url.pathname).toBe(route.sink.path);
    expect(url.hostname.split('.')[0]).toBe(route.sink.part);
  });

  it('runs exactly one tick source, at the route period, into the arbitrator', () => {
    expect(tickSources).toHaveLength(1);
    const route = tickRoutes[0] as (typeof tickRoutes)[number];
    const p = tickSources[0] as Pod;
    expect((p.owner.spec as { sink: Sink }).sink.ref.name).toBe(route.sink.part);
    expect(new URL(sourceEnv(r, p).K_SINK ?? '').pathname).toBe(route.sink.path);
    expect(sourceEnv(r, p).TICK_PERIOD_MS ?? String(route.periodMs)).toBe(String(route.periodMs));
    expect(p.owner.metadata.annotations?.['proteus.dev/route']).toBe(route.name);
  });

  it("has KEDA read the workers' stream and group", () => {
    const scaled = r.objects.find((o) => o.kind === 'ScaledObject') as K8sObject;
    const metadata = (scaled.spec as { triggers: { metadata: Record<string, string> }[] }).triggers[0]?.metadata ?? {};
    expect(metadata.stream).toBe(keys.streams.jobs);
    expect(metadata.consumerGroup).toBe(keys.streamGroups[keys.streams.jobs]);
    expect(metadata.consumerGroup).toBe(keys.groups.weavers);
  });

  it('has KEDA read the Redis the worker reads', () => {
    const scaled = r.objects.find((o) => o.kind === 'ScaledObject') as K8sObject;
    const address = (scaled.spec as { triggers: { metadata: Record<string, string> }[] }).triggers[0]?.metadata.address ?? '';
    const worker = pods(r.objects).find((p) => p.owner.kind === 'Deployment' && p.owner.metadata.name === 'gpu-worker') as Pod;
    const redis = new URL(sourceEnv(r, worker).REDIS_URL ?? '');
    expect(address).toBe(`${redis.hostname}:${redis.port || '6379'}`);
  });

  it('points every sink URL variable a part sets at the Knative Service of that part', () => {
    const seen: string[] = [];
    for (const p of pods(r.objects)) {
      for (const c of p.spec.containers) {
        const env = resolveEnv(p, c, r.objects, r.external).env;
        for (const [part, variable] of Object.entries(sinkUrlEnv)) {
          if (!env[variable]) continue;
          seen.push(variable);
          expect(env[variable]).toBe(sinkUrl({ ref: { kind: 'Service', name: part } }, p.owner.metadata.namespace ?? ''));
        }
      }
    }
    expect(seen).toContain('TAILOR_URL');
  });
});
