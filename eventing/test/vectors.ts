import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', 'test-vectors');
const load = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), value: JSON.parse(readFileSync(join(root, dir, f), 'utf8')) }));

export const validVectors = load('valid') as { name: string; value: Record<string, unknown> }[];
export const invalidVectors = load('invalid') as { name: string; value: { reason: string; event: Record<string, unknown> } }[];
