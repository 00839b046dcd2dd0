/** The renderings the tests look at: each overlay, and LKE with managed datastores. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../src/functions.ts';
import { type K8sObject, render, renderWithComponents } from '../src/kustomize.ts';
import type { ExternalSecrets } from '../src/pods.ts';
import { secretsFromCommands } from '../src/secrets.ts';

export interface Rendering {
  name: string;
  objects: K8sObject[];
  /** Secrets that exist in the cluster without being in the rendering */
  external: ExternalSecrets;
}

export const readmeText = readFileSync(join(repoRoot, 'infra', 'README.md'), 'utf8');
/** What infra/README.md tells an operator to create. */
export const readmeSecrets = secretsFromCommands(readmeText);

/** The managed endpoints an operator would put in the Secrets with the managed-datastores component. */
const managedSecrets: ExternalSecrets = {
  ...readmeSecrets,
  'proteus-redis': { ...readmeSecrets['proteus-redis'], url: 'rediss://default:0123456789abcdef@redis.example.net:6380/0' },
  'proteus-postgres': { ...readmeSecrets['proteus-postgres'], url: 'postgres://proteus:0123456789abcdef@db.example.net:5432/proteus?sslmode=require' },
};

let cache: Rendering[] | undefined;

export function renderings(): Rendering[] {
  cache ??= [
    { name: 'lke', objects: render('overlays/lke'), external: readmeSecrets },
    { name: 'local', objects: render('overlays/local'), external: {} },
    { name: 'lke + managed-datastores', objects: renderWithComponents('overlays/lke', ['components/managed-datastores']), external: managedSecrets },
  ];
  return cache;
}

export const rendering = (name: string) => renderings().find((r) => r.name === name) as Rendering;
