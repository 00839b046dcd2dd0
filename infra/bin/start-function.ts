/**
 * The functions image's start command (`npm start` at the repository root, which the pack
 * builder and the Dockerfile both run): starts the part PROTEUS_FUNCTION names in this process,
 * so signals reach it directly. A missing or unknown name exits 2, the configuration convention.
 */
import { pathToFileURL } from 'node:url';
import { resolveFunction } from '../src/functions.ts';

const chosen = resolveFunction(process.env.PROTEUS_FUNCTION);
if (!chosen.ok) {
  process.stderr.write(`proteus: ${chosen.message}\n`);
  process.exit(2);
}
// each part runs from its own package folder, as in the dev stack
process.chdir(chosen.dir);
await import(pathToFileURL(chosen.entry).href);
