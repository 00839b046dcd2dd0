/**
 * Schema validation of rendered objects with kubernetes-models (Kubernetes), and its Knative
 * and KEDA packages: every model class these export, found by apiVersion and kind.
 *
 * The models' JSON schemas accept fields they do not define (as the OpenAPI documents they are
 * generated from do), so a misspelt optional field passes here; `kubectl apply` (strict field
 * validation by default) is what catches those.
 */
import * as keda from '@kubernetes-models/keda';
import * as knative from '@kubernetes-models/knative';
import * as kubernetes from 'kubernetes-models';
import type { K8sObject } from './kustomize.ts';

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

function collect(into: Map<string, ModelClass>, exports: unknown, depth = 0): void {
  if (!exports || typeof exports !== 'object' || depth > 4) return;
  for (const value of Object.values(exports)) {
    if (typeof value === 'function' && 'apiVersion' in value && 'kind' in value) {
      const model = value as unknown as ModelClass;
      into.set(`${model.apiVersion}/${model.kind}`, model);
    } else collect(into, value, depth + 1);
  }
}

const registry = new Map<string, ModelClass>();
collect(registry, kubernetes);
collect(registry, knative);
collect(registry, keda);

export const hasModel = (o: Pick<K8sObject, 'apiVersion' | 'kind'>) => registry.has(`${o.apiVersion}/${o.kind}`);

/**
 * The schema errors of one object ('' when valid). Secret data is compared without the line
 * breaks kustomize wraps long base64 values in: the API server's decoder skips them, the models'
 * `byte` format does not.
 */
export function schemaErrors(o: K8sObject): string {
  const model = registry.get(`${o.apiVersion}/${o.kind}`);
  if (!model) return `no model for ${o.apiVersion} ${o.kind}`;
  let data: K8sObject = o;
  if (o.kind === 'Secret' && o.data) {
    data = { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')])) };
  }
  try {
    new model(data).validate();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}
