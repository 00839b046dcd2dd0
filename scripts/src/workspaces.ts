import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface Workspace {
  name: string;
  dir: string;
  scripts: Record<string, string>;
}

/** The npm workspaces of the repo, expanded from the root package.json (one level of `*`). */
export function workspaces(root = repoRoot): Workspace[] {
  const patterns = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  const dirs = patterns.flatMap((p) => {
    if (!p.endsWith('/*')) return [join(root, p)];
    const parent = join(root, p.slice(0, -2));
    return readdirSync(parent)
      .map((d) => join(parent, d))
      .filter((d) => statSync(d).isDirectory());
  });
  return dirs.flatMap((dir) => {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; scripts?: Record<string, string> };
      return [{ name: pkg.name, dir, scripts: pkg.scripts ?? {} }];
    } catch {
      return [];
    }
  });
}
