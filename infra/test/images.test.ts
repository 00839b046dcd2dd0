/**
 * The images: func.yaml builds the functions image with pack and the root start script; the
 * Dockerfile builds the same thing (Node 24, production dependencies, non-root); the worker's
 * image is CUDA-based, non-root, and carries the contract.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../src/functions.ts';

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const rootPackage = JSON.parse(read('package.json')) as { workspaces: string[]; scripts: Record<string, string>; dependencies: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, unknown> };

/** Workspace folders as npm sees them (the lock file lists each one). */
const workspaceDirs = Object.keys(lock.packages).filter((p) => p && !p.includes('node_modules'));

/** A Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

describe('func.yaml', () => {
  const func = parse(read('func.yaml')) as {
    specVersion: string;
    name: string;
    runtime: string;
    created: string;
    build: { builder: string; buildpacks: string[]; buildEnvs: { name: string; value: string }[] };
    run: { envs: { name: string; value: string }[] };
  };
  const buildEnv = Object.fromEntries(func.build.buildEnvs.map((e) => [e.name, e.value]));

  it('builds a Node function with the pack builder and the Paketo Node.js buildpack', () => {
    expect(func.specVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(func.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(Number.isNaN(Date.parse(func.created))).toBe(false);
    expect(func.runtime).toBe('node');
    expect(func.build.builder).toBe('pack');
    expect(func.build.buildpacks).toEqual(['paketo-buildpacks/nodejs']);
    expect(buildEnv.BP_NODE_VERSION).toBe('24');
    // the build script it runs exists and builds the web app
    expect(rootPackage.scripts[buildEnv.BP_NODE_RUN_SCRIPTS ?? '']).toBe('turbo run build');
  });

  it('starts the part PROTEUS_FUNCTION names, with tsx a production dependency', () => {
    // exec: npm's child is node itself, so the SIGTERM npm passes on reaches the part
    expect(rootPackage.scripts.start).toBe('exec node --import tsx infra/bin/start-function.ts');
    expect(rootPackage.dependencies.tsx).toBeDefined();
    expect(func.run.envs.find((e) => e.name === 'PROTEUS_FUNCTION')?.value).toBe('api');
  });
});

describe('functions.Dockerfile', () => {
  const steps = instructions(read('infra/docker/functions.Dockerfile'));

  it('builds on Node 24 and copies every workspace manifest before npm ci, in both stages', () => {
    expect(steps.find((s) => s.startsWith('ARG NODE_IMAGE='))).toMatch(/^ARG NODE_IMAGE=node:24\.\d+\.\d+-[a-z]+-slim$/);
    expect(workspaceDirs.length).toBeGreaterThan(8);
    for (const dir of workspaceDirs) {
      expect(
        steps.filter((s) => new RegExp(`^COPY .*\\b${dir}/package\\.json ${dir}/$`).test(s)),
        dir,
      ).toHaveLength(2);
    }
    const ci = steps.filter((s) => s.startsWith('RUN npm ci'));
    expect(ci).toHaveLength(2);
    expect(ci[1]).toContain('--omit=dev');
  });

  it('runs as a numeric non-root user with the same command as `npm start`', () => {
    expect(steps.find((s) => s.startsWith('USER '))).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    const cmd = JSON.parse((steps.find((s) => s.startsWith('CMD ')) ?? 'CMD []').slice(4)) as string[];
    expect(`exec ${cmd.join(' ')}`).toBe(rootPackage.scripts.start);
    expect(steps).toContain('COPY --from=build /workspace/web/dist web/dist');
  });
});

describe('gpu-worker.Dockerfile', () => {
  const steps = instructions(read('infra/docker/gpu-worker.Dockerfile'));

  it('builds on a CUDA runtime image and installs the worker package', () => {
    expect(steps.find((s) => s.startsWith('ARG CUDA_IMAGE='))).toMatch(/^ARG CUDA_IMAGE=nvidia\/cuda:\d+\.\d+\.\d+-runtime-ubuntu\d+\.\d+$/);
    expect(steps).toContain('RUN pip install --no-deps ./gpu-worker');
    expect(steps.find((s) => s.startsWith('CMD '))).toBe('CMD ["python", "-m", "proteus_worker"]');
  });

  it('carries the contract where the worker looks for it, and runs as a numeric non-root user', () => {
    expect(steps).toContain('COPY eventing/schemas/ eventing/schemas/');
    expect(steps).toContain('ENV PROTEUS_CONTRACT_DIR=/app/eventing/schemas');
    expect(steps.find((s) => s.startsWith('USER '))).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    expect(read('infra/docker/gpu-worker.Dockerfile.dockerignore')).toContain('!eventing/schemas/**');
  });
});
