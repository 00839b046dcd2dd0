/**
 * The pods a rendering asks for: every workload kind Proteus uses keeps its pod template at
 * spec.template (Deployment, StatefulSet, DaemonSet, Job, Knative Service, ContainerSource), and
 * the environment each container will see, with Secret and ConfigMap references resolved and the
 * variables Knative injects added.
 */
import type { K8sObject } from './kustomize.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}
export interface EnvFrom {
  configMapRef?: { name: string };
  secretRef?: { name: string };
}
export interface Probe {
  httpGet?: { path?: string; port?: number | string };
  tcpSocket?: { port?: number | string };
  exec?: { command: string[] };
  failureThreshold?: number;
  periodSeconds?: number;
}
export interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  envFrom?: EnvFrom[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
}
export interface PodSpec {
  containers: Container[];
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; operator?: string; value?: string; effect?: string }[];
  terminationGracePeriodSeconds?: number;
}
export interface Pod {
  owner: K8sObject;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'Service', 'ContainerSource']);

export const isKnativeService = (o: K8sObject) => o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/');

export function pods(objects: K8sObject[]): Pod[] {
  return objects.flatMap((owner) => {
    if (!workloadKinds.has(owner.kind) || (owner.kind === 'Service' && !isKnativeService(owner))) return [];
    const template = (owner.spec as { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } })
      .template;
    if (!template) return [];
    return [{ owner, labels: template.metadata?.labels ?? {}, annotations: template.metadata?.annotations ?? {}, spec: template.spec }];
  });
}

/** Secrets created outside the rendering (kubectl create secret), with values of the right shape. */
export type ExternalSecrets = Record<string, Record<string, string>>;

export interface ResolvedEnv {
  env: Record<string, string>;
  /** references that lead nowhere: a Secret, ConfigMap or key that is neither rendered nor external */
  dangling: string[];
}

function objectData(objects: K8sObject[], kind: 'Secret' | 'ConfigMap', name: string, namespace: string | undefined): Record<string, string> | undefined {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace);
  if (!found) return undefined;
  const data = (found.data ?? {}) as Record<string, string>;
  const stringData = (found.stringData ?? {}) as Record<string, string>;
  if (kind === 'ConfigMap') return { ...data };
  const decoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v.replace(/\s+/g, ''), 'base64').toString('utf8')]));
  return { ...decoded, ...stringData };
}

/** The value of one Knative Destination as Knative resolves it into K_SINK. */
export function sinkUrl(sink: { ref?: { kind: string; name: string; namespace?: string }; uri?: string }, namespace: string): string {
  if (!sink.ref) return sink.uri ?? '';
  const base = `http://${sink.ref.name}.${sink.ref.namespace ?? namespace}.svc.cluster.local`;
  return sink.uri ? new URL(sink.uri, base).toString() : base;
}

/** What a container's process will find in its environment. */
export function resolveEnv(pod: Pod, container: Container, objects: K8sObject[], external: ExternalSecrets = {}): ResolvedEnv {
  const ns = pod.owner.metadata.namespace;
  const env: Record<string, string> = {};
  const dangling: string[] = [];
  const lookup = (kind: 'Secret' | 'ConfigMap', name: string) => objectData(objects, kind, name, ns) ?? (kind === 'Secret' ? external[name] : undefined);
  // injected by Knative: Serving sets PORT to the container port, a source's SinkBinding sets K_SINK
  if (isKnativeService(pod.owner)) env.PORT = String(container.ports?.[0]?.containerPort ?? 8080);
  if (pod.owner.kind === 'ContainerSource') {
    const spec = pod.owner.spec as { sink: Parameters<typeof sinkUrl>[0]; ceOverrides?: unknown };
    env.K_SINK = sinkUrl(spec.sink, ns ?? 'default');
    if (spec.ceOverrides) env.K_CE_OVERRIDES = JSON.stringify(spec.ceOverrides);
  }
  for (const from of container.envFrom ?? []) {
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const name = (from.configMapRef ?? from.secretRef)?.name ?? '';
    const data = lookup(kind, name);
    if (!data) dangling.push(`envFrom ${kind} ${name}`);
    else Object.assign(env, data);
  }
  for (const v of container.env ?? []) {
    const ref = v.valueFrom?.secretKeyRef ?? v.valueFrom?.configMapKeyRef;
    if (v.value !== undefined) env[v.name] = v.value;
    else if (ref) {
      const kind = v.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
      const value = lookup(kind, ref.name)?.[ref.key];
      if (value === undefined) dangling.push(`${v.name}: ${kind} ${ref.name} key ${ref.key}`);
      else env[v.name] = value;
    } else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = `${pod.owner.metadata.name}-5d8f9c7b6-x2x7q`;
    else dangling.push(`${v.name}: no value`);
  }
  return { env, dangling };
}
