/**
 * The parts the one functions image can run, by the name PROTEUS_FUNCTION gives them. The image
 * (func.yaml's pack build, or infra/docker/functions.Dockerfile) holds the whole workspace, and
 * the manifests, the compose file and the start script all read the same table.
 */
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** The workspace folder each part runs in and its entry module, relative to that folder. */
export const functionEntries = {
  api: { dir: 'functions/api', entry: 'src/server.ts' },
  segment: { dir: 'functions/segment', entry: 'src/server.ts' },
  arbitrator: { dir: 'functions/arbitrator', entry: 'src/server.ts' },
  realtime: { dir: 'functions/realtime', entry: 'src/server.ts' },
  'stream-source': { dir: 'eventing', entry: 'src/bin/stream-source.ts' },
  'tick-source': { dir: 'eventing', entry: 'src/bin/tick-source.ts' },
} as const;

export type FunctionName = keyof typeof functionEntries;
export const functionNames = Object.keys(functionEntries) as FunctionName[];

/** The environment variable that picks the part. */
export const FUNCTION_ENV = 'PROTEUS_FUNCTION';

export type Resolved = { ok: true; name: FunctionName; dir: string; entry: string } | { ok: false; message: string };

/** The part `value` names, with absolute paths, or a message naming the value and the choices. */
export function resolveFunction(value: string | undefined, root = repoRoot): Resolved {
  const choices = functionNames.join(', ');
  if (value === undefined || value.trim() === '') return { ok: false, message: `${FUNCTION_ENV} is unset; set it to one of ${choices}` };
  if (!Object.hasOwn(functionEntries, value))
    return { ok: false, message: `${FUNCTION_ENV}=${JSON.stringify(value)} is not a part; expected one of ${choices}` };
  const name = value as FunctionName;
  const dir = join(root, functionEntries[name].dir);
  return { ok: true, name, dir, entry: join(dir, functionEntries[name].entry) };
}
