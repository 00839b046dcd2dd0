/**
 * Renders a kustomization with the real kustomize (scripts/bootstrap.sh builds it into
 * .tools/kustomize) and parses the output, so tests look at exactly what `kubectl apply -k` gets.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './functions.ts';

export const k8sDir = join(repoRoot, 'infra', 'k8s');

/** A rendered Kubernetes object: only the fields every object has are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** $PROTEUS_KUSTOMIZE, else the one scripts/bootstrap.sh builds, else `kustomize` on PATH. */
export function kustomizeBinary(): string {
  const given = process.env.PROTEUS_KUSTOMIZE;
  if (given) return given;
  const built = join(repoRoot, '.tools', 'kustomize', 'bin', 'kustomize');
  return existsSync(built) ? built : 'kustomize';
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`not YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    return value ? [value] : [];
  });
}

/** `kustomize build <dir>` (relative to infra/k8s), parsed. */
export function render(dir: string): K8sObject[] {
  const out = execFileSync(kustomizeBinary(), ['build', join(k8sDir, dir)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseManifests(out);
}

/** An overlay with components added, as an operator would list them (kustomize wants relative paths). */
export function renderWithComponents(overlay: string, components: string[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'proteus-kustomize-'));
  try {
    const rel = (p: string) => relative(dir, join(k8sDir, p));
    const lines = ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', `  - ${rel(overlay)}`, 'components:'];
    for (const c of components) lines.push(`  - ${rel(c)}`);
    writeFileSync(join(dir, 'kustomization.yaml'), `${lines.join('\n')}\n`);
    const out = execFileSync(kustomizeBinary(), ['build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
    return parseManifests(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const idOf = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendering (have: ${objects.map(idOf).join(', ')})`);
  return found;
}
