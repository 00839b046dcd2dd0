/** Writes eventing/schemas/ from the zod contracts, removing files that no longer belong. */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles } from './contract.ts';

export const schemasDir = join(import.meta.dirname, '..', 'schemas');

const files = generatedFiles();
mkdirSync(schemasDir, { recursive: true });
for (const name of readdirSync(schemasDir)) {
  if (name.endsWith('.json') && !files.has(name)) rmSync(join(schemasDir, name));
}
for (const [name, text] of files) writeFileSync(join(schemasDir, name), text);
console.log(`wrote ${files.size} files to ${schemasDir}`);
