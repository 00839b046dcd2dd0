/** This package's `src/server.ts` as its own process (see @proteus/testkit's process helpers). */
import { join } from 'node:path';
import { runPart, startPart } from '@proteus/testkit';

const packageDir = join(import.meta.dirname, '..');
export const startServer = (env: Record<string, string>) => startPart(packageDir, 'src/server.ts', env);
export const runServer = (env: Record<string, string>, timeoutMs?: number) => runPart(packageDir, 'src/server.ts', env, timeoutMs);
export { logLine, occupiedPort } from '@proteus/testkit';
