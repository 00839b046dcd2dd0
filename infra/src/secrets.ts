/**
 * The Secrets an operator creates by hand (infra/README.md, "Secrets"): read from the README's own
 * `kubectl create secret generic` commands, so the document and the manifests cannot drift. Shell
 * expansions ($VAR, $(command)) stand for a 32-character hex value, as the README makes them.
 */
import type { ExternalSecrets } from './pods.ts';

const SAMPLE = '0123456789abcdef0123456789abcdef';

export function secretsFromCommands(text: string): ExternalSecrets {
  const lines = text.replace(/\\\r?\n\s*/g, ' ').split(/\r?\n/);
  const secrets: ExternalSecrets = {};
  for (const line of lines) {
    const match = /create secret generic ([a-z0-9-]+)/.exec(line);
    if (!match) continue;
    const keys: Record<string, string> = {};
    for (const literal of line.matchAll(/--from-literal=([A-Za-z0-9._-]+)=("([^"]*)"|'([^']*)'|(\S+))/g)) {
      const raw = literal[3] ?? literal[4] ?? literal[5] ?? '';
      keys[literal[1] as string] = raw.replace(/\$\([^)]*\)|\$\{\w+\}|\$\w+/g, SAMPLE);
    }
    secrets[match[1] as string] = keys;
  }
  return secrets;
}
