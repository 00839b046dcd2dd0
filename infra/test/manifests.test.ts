/**
 * The rendered manifests: schema-valid, every reference resolvable, and shaped as the design
 * says (Knative scaling, realtime outside Knative, the GPU worker's scheduling and shutdown,
 * KEDA's behaviour, the ingress, the network policies).
 */
import { describe, expect, it } from 'vitest';
import { find, idOf, type K8sObject } from '../src/kustomize.ts';
import { schemaErrors } from '../src/models.ts';
import { type Container, isKnativeService, type Pod, pods, resolveEnv } from '../src/pods.ts';
import { readmeText, rendering, renderings } from './renderings.ts';

const all = renderings();
const spec = <T>(o: K8sObject) => o.spec as T;

function pod(objects: K8sObject[], kind: string, name: string): Pod {
  const owner = find(objects, kind, name);
  return pods([owner])[0] as Pod;
}
const container = (p: Pod) => p.spec.containers[0] as Container;

interface IngressPath {
  path: string;
  pathType: string;
  backend: { service: { name: string; port: { number: number } } };
}
interface IngressSpec {
  rules: { host?: string; http: { paths: IngressPath[] } }[];
}

describe.each(all.map((r) => [r.name, r] as const))('%s', (_name, r) => {
  it('renders objects that each validate against the Kubernetes, Knative or KEDA schema', () => {
    expect(r.objects.length).toBeGreaterThan(25);
    const errors = r.objects.map((o) => [idOf(o), schemaErrors(o)]).filter(([, e]) => e);
    expect(errors).toEqual([]);
  });

  it('resolves every Secret and ConfigMap a container, volume or KEDA refers to', () => {
    const dangling = pods(r.objects).flatMap((p) =>
      p.spec.containers.flatMap((c) => resolveEnv(p, c, r.objects, r.external).dangling.map((d) => `${idOf(p.owner)}: ${d}`)),
    );
    const secretExists = (name: string, key?: string) => {
      const rendered = r.objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
      if (rendered) return key === undefined || Object.hasOwn((rendered.data ?? rendered.stringData ?? {}) as object, key);
      return key === undefined ? name in r.external : Object.hasOwn(r.external[name] ?? {}, key);
    };
    for (const p of pods(r.objects)) {
      for (const v of (p.spec as { volumes?: { secret?: { secretName: string } }[] }).volumes ?? []) {
        if (v.secret && !secretExists(v.secret.secretName)) dangling.push(`${idOf(p.owner)}: volume Secret ${v.secret.secretName}`);
      }
    }
    for (const auth of r.objects.filter((o) => o.kind === 'TriggerAuthentication')) {
      for (const ref of spec<{ secretTargetRef: { name: string; key: string }[] }>(auth).secretTargetRef) {
        if (!secretExists(ref.name, ref.key)) dangling.push(`${idOf(auth)}: Secret ${ref.name} key ${ref.key}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it('pins every image to a tag other than latest', () => {
    const images = pods(r.objects).flatMap((p) => p.spec.containers.map((c) => c.image));
    expect(images.length).toBeGreaterThan(8);
    expect(images.filter((image) => !/:[\w][\w.-]*$/.test(image) || image.endsWith(':latest'))).toEqual([]);
  });

  it('points every in-cluster host name at a Service of the rendering, in its namespace', () => {
    const services = new Set(r.objects.filter((o) => o.kind === 'Service').map((o) => `${o.metadata.name}.${o.metadata.namespace}`));
    const texts = [JSON.stringify(r.objects)];
    for (const p of pods(r.objects)) for (const c of p.spec.containers) texts.push(JSON.stringify(resolveEnv(p, c, r.objects, r.external).env));
    const hosts = new Set(texts.flatMap((t) => [...t.matchAll(/([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local/g)].map((m) => `${m[1]}.${m[2]}`)));
    expect(hosts.size).toBeGreaterThanOrEqual(3);
    expect([...hosts].filter((h) => !services.has(h))).toEqual([]);
  });

  it('runs api, segment and arbitrator as cluster-local Knative Services; the arbitrator is always exactly one pod', () => {
    for (const name of ['api', 'segment', 'arbitrator']) {
      const service = r.objects.find((o) => isKnativeService(o) && o.metadata.name === name) as K8sObject;
      expect(service, name).toBeDefined();
      expect(service.metadata.labels?.['networking.knative.dev/visibility']).toBe('cluster-local');
      const a = pod(r.objects, 'Service', name).annotations;
      expect(Number(a['autoscaling.knative.dev/min-scale']), name).toBeGreaterThanOrEqual(1);
      expect(Number(a['autoscaling.knative.dev/max-scale']), name).toBeGreaterThanOrEqual(Number(a['autoscaling.knative.dev/min-scale']));
    }
    const arbitrator = pod(r.objects, 'Service', 'arbitrator').annotations;
    expect([arbitrator['autoscaling.knative.dev/min-scale'], arbitrator['autoscaling.knative.dev/max-scale']]).toEqual(['1', '1']);
    for (const name of ['api', 'segment']) expect(Number(pod(r.objects, 'Service', name).annotations['autoscaling.knative.dev/target'])).toBeGreaterThan(0);
  });

  it('runs realtime as a plain Deployment that the ingress reaches for /updates with an hour-long read timeout', () => {
    const realtime = find(r.objects, 'Deployment', 'realtime');
    expect(realtime.apiVersion).toBe('apps/v1');
    const updates = r.objects.filter(
      (o) => o.kind === 'Ingress' && spec<IngressSpec>(o).rules.some((rule) => rule.http.paths.some((p) => p.path === '/updates')),
    );
    expect(updates).toHaveLength(1);
    const ingress = updates[0] as K8sObject;
    const backend = spec<IngressSpec>(ingress).rules[0]?.http.paths[0]?.backend.service;
    expect(backend?.name).toBe('realtime');
    const svc = find(r.objects, 'Service', 'realtime');
    expect(spec<{ ports: { port: number }[] }>(svc).ports.map((p) => p.port)).toContain(backend?.port.number);
    expect(Number(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
  });

  it('sends /api and the web app to the api through Kourier, and refuses the internal routes', () => {
    const ns = find(r.objects, 'Service', 'api').metadata.namespace;
    const routes = new Map<string, K8sObject>();
    for (const ingress of r.objects.filter((o) => o.kind === 'Ingress')) {
      for (const rule of spec<IngressSpec>(ingress).rules) for (const p of rule.http.paths) routes.set(p.path, ingress);
    }
    for (const path of ['/api', '/']) {
      const ingress = routes.get(path) as K8sObject;
      expect(ingress, path).toBeDefined();
      expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/upstream-vhost']).toBe(`api.${ns}.svc.cluster.local`);
    }
    for (const path of ['/events', '/metrics', '/healthz']) {
      expect(routes.get(path)?.metadata.annotations?.['nginx.ingress.kubernetes.io/denylist-source-range'], path).toBe('0.0.0.0/0,::/0');
    }
    const hosts = new Set(r.objects.filter((o) => o.kind === 'Ingress').flatMap((o) => spec<IngressSpec>(o).rules.map((rule) => rule.host ?? '*')));
    expect(hosts.size).toBe(1);
  });

  it("lets realtime accept the ingress host's origin", () => {
    const host = (spec<IngressSpec>(find(r.objects, 'Ingress', 'proteus-updates')).rules[0] as { host?: string }).host;
    const p = pod(r.objects, 'Deployment', 'realtime');
    const origins = (resolveEnv(p, container(p), r.objects, r.external).env.ALLOWED_ORIGINS ?? '').split(',');
    const ingress = find(r.objects, 'Ingress', 'proteus-updates');
    const scheme = spec<{ tls?: unknown[] }>(ingress).tls ? 'https' : 'http';
    expect(origins).toContain(`${scheme}://${host ?? 'localhost'}`);
  });

  it('denies all traffic in the namespace by default, allowing DNS', () => {
    const policies = r.objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = find(policies, 'NetworkPolicy', 'default-deny');
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const dns = spec<{ podSelector: object; egress: { ports: { port: number; protocol: string }[] }[] }>(find(policies, 'NetworkPolicy', 'allow-dns'));
    expect(dns.podSelector).toEqual({});
    expect(dns.egress[0]?.ports).toEqual([
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
    const realtime = spec<{ ingress: { from: unknown[] }[] }>(find(policies, 'NetworkPolicy', 'realtime'));
    expect(realtime.ingress[0]?.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
  });

  it('has the KEDA ScaledObject scale the worker between 1 and a few pods, up fast and down slowly', () => {
    const scaled = spec<{
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      maxReplicaCount: number;
      triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: Record<'scaleUp' | 'scaleDown', { stabilizationWindowSeconds: number; policies: { type: string; value: number; periodSeconds: number }[] }>;
        };
      };
    }>(find(r.objects, 'ScaledObject', 'gpu-worker'));
    expect(find(r.objects, 'Deployment', scaled.scaleTargetRef.name)).toBeDefined();
    expect(scaled.minReplicaCount).toBe(1);
    expect(scaled.maxReplicaCount).toBe(r.name === 'local' ? 2 : 5);
    expect(scaled.triggers[0]?.type).toBe('redis-streams');
    expect(scaled.triggers[0]?.metadata.lagCount).toBe('10');
    expect(find(r.objects, 'TriggerAuthentication', scaled.triggers[0]?.authenticationRef.name ?? '')).toBeDefined();
    const { scaleUp, scaleDown } = scaled.advanced.horizontalPodAutoscalerConfig.behavior;
    expect(scaleUp.stabilizationWindowSeconds).toBe(0);
    expect(scaleUp.policies.some((p) => p.type === 'Percent' && p.value >= 100 && p.periodSeconds <= 30)).toBe(true);
    expect(scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    expect(scaleDown.policies.every((p) => p.type === 'Pods' && p.value === 1 && p.periodSeconds >= 60)).toBe(true);
    // the Deployment leaves the count to KEDA (a replicas field would fight it on every apply)
    expect(spec<{ replicas?: number }>(find(r.objects, 'Deployment', 'gpu-worker')).replicas).toBeUndefined();
  });

  it('stops the worker gracefully: a preStop hook, then a grace period longer than the slowest batch', () => {
    const p = pod(r.objects, 'Deployment', 'gpu-worker');
    const c = container(p);
    expect(c.lifecycle?.preStop?.exec?.command ?? c.lifecycle?.preStop?.sleep).toBeDefined();
    if (r.name === 'local') return; // warp: milliseconds a batch
    // Not measured yet (docs/CATVTON.md has no GPU figures): an assumed upper bound for one
    // 1024 px, 50-step image on the smallest GPU targeted (an RTX 4000 Ada class card). Batch
    // 2 costs about 1.06x batch 1 per image, so a batch of n costs about n single images.
    const slowestImageS = 60;
    const maxBatch = Number(resolveEnv(p, c, r.objects, r.external).env.WORKER_MAX_BATCH_SIZE ?? 8);
    expect(p.spec.terminationGracePeriodSeconds).toBeGreaterThan(maxBatch * slowestImageS + 5);
  });

  it("probes the worker's /health on its health port, where Prometheus scrapes /metrics", () => {
    const p = pod(r.objects, 'Deployment', 'gpu-worker');
    const c = container(p);
    const port = Number(resolveEnv(p, c, r.objects, r.external).env.WORKER_HEALTH_PORT);
    const named = new Map((c.ports ?? []).map((cp) => [cp.name, cp.containerPort]));
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
      expect(probe?.httpGet?.path).toBe('/health');
      const probePort = probe?.httpGet?.port;
      expect(typeof probePort === 'string' ? named.get(probePort) : probePort).toBe(port);
    }
    expect(Number(p.annotations['prometheus.io/port'])).toBe(port);
    expect(resolveEnv(p, c, r.objects, r.external).env.WORKER_HEALTH_HOST).toBe('0.0.0.0');
  });
});

describe('lke', () => {
  const r = rendering('lke');

  it('puts the worker on the GPU pool (nvidia.com/gpu, the pool label, tolerating its taint) with the device plugin beside it', () => {
    const worker = pod(r.objects, 'Deployment', 'gpu-worker');
    expect(container(worker).resources?.limits?.['nvidia.com/gpu']).toBe(1);
    expect(worker.spec.nodeSelector).toEqual({ 'proteus.dev/node-pool': 'gpu' });
    expect(worker.spec.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' });
    const plugin = pod(r.objects, 'DaemonSet', 'nvidia-device-plugin-daemonset');
    expect(plugin.owner.metadata.namespace).toBe('kube-system');
    expect(plugin.spec.nodeSelector).toEqual(worker.spec.nodeSelector);
    expect(plugin.spec.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(container(plugin).image).toMatch(/^nvcr\.io\/nvidia\/k8s-device-plugin:v\d+\.\d+\.\d+$/);
  });

  it('documents the GPU pool with the label and taint the worker expects', () => {
    expect(readmeText).toContain('"labels": {"proteus.dev/node-pool": "gpu"}');
    expect(readmeText).toContain('"taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]');
  });

  it('uses Linode Object Storage and a NodeBalancer that carries client addresses', () => {
    const storage = find(r.objects, 'ConfigMap', 'proteus-object-storage').data as Record<string, string>;
    expect(storage.OBJECT_STORAGE_ENDPOINT).toMatch(/^https:\/\/[a-z]+-[a-z]+-\d\.linodeobjects\.com$/);
    expect(storage.OBJECT_STORAGE_ENDPOINT).toContain(storage.OBJECT_STORAGE_REGION);
    const nb = find(r.objects, 'Service', 'proteus-nodebalancer');
    expect(spec<{ type: string }>(nb).type).toBe('LoadBalancer');
    expect(nb.metadata.annotations?.['service.beta.kubernetes.io/linode-loadbalancer-default-protocol']).toBe('tcp');
    expect(nb.metadata.annotations?.['service.beta.kubernetes.io/linode-loadbalancer-default-proxy-protocol']).toBe('v2');
  });

  it('renders no Secret: they are created by hand (infra/README.md)', () => {
    expect(r.objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(Object.keys(r.external).sort()).toEqual(['proteus-jwt', 'proteus-object-storage', 'proteus-postgres', 'proteus-redis']);
  });
});

describe('local', () => {
  const r = rendering('local');

  it('runs the warp worker on CPU, without GPU scheduling or the device plugin', () => {
    const worker = pod(r.objects, 'Deployment', 'gpu-worker');
    expect(JSON.stringify(worker.spec)).not.toContain('nvidia.com/gpu');
    expect(worker.spec.nodeSelector).toBeUndefined();
    expect(resolveEnv(worker, container(worker), r.objects).env.WORKER_ENGINE).toBe('warp');
    expect(r.objects.filter((o) => o.kind === 'DaemonSet')).toEqual([]);
  });

  it('gives SeaweedFS the same key pair the parts use', () => {
    const identities = find(r.objects, 'Secret', 'object-storage-identities').data as Record<string, string>;
    const config = JSON.parse(Buffer.from((identities['s3.json'] ?? '').replace(/\s+/g, ''), 'base64').toString()) as {
      identities: { credentials: { accessKey: string; secretKey: string }[] }[];
    };
    const keys = find(r.objects, 'Secret', 'proteus-object-storage').data as Record<string, string>;
    const decode = (v?: string) => Buffer.from(v ?? '', 'base64').toString();
    expect(config.identities[0]?.credentials[0]).toEqual({ accessKey: decode(keys['access-key']), secretKey: decode(keys['secret-key']) });
  });
});

describe('lke + managed-datastores', () => {
  const r = rendering('lke + managed-datastores');

  it('drops the Redis and PostgreSQL StatefulSets and lets their clients out on the database ports only', () => {
    expect(r.objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
    const redisClients = JSON.stringify(find(r.objects, 'NetworkPolicy', 'redis-clients').spec);
    expect(redisClients).toContain('"port":6380');
    expect(redisClients).not.toContain('"port":443');
    expect(find(r.objects, 'ScaledObject', 'gpu-worker').spec).toMatchObject({ triggers: [{ metadata: { enableTLS: 'true' } }] });
  });
});

describe('the schema check', () => {
  it('rejects objects that break their schema, and kinds it has no model for', () => {
    const broken: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: { selector: {}, template: { spec: { containers: 'none' } } },
    };
    expect(schemaErrors(broken)).toMatch(/containers/);
    const knative: K8sObject = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'x' },
      spec: { scaleTargetRef: { name: 'y' }, minReplicaCount: '1', triggers: [] },
    };
    expect(schemaErrors(knative)).toMatch(/minReplicaCount must be integer/);
    expect(schemaErrors({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } })).toMatch(/no model/);
  });

  it('reports a reference to a Secret nobody creates', () => {
    const objects: K8sObject[] = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'x', namespace: 'proteus' },
        spec: {
          template: { spec: { containers: [{ name: 'x', image: 'x:1', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'missing', key: 'k' } } }] }] } },
        },
      },
    ];
    const p = pods(objects)[0] as Pod;
    expect(resolveEnv(p, container(p), objects).dangling).toEqual(['A: Secret missing key k']);
  });
});
