/**
 * Keeps docs/RELIABILITY.md current from the suites' own output: each suite owns a section
 * between `<!-- BEGIN name -->` and `<!-- END name -->` and rewrites it with what it measured,
 * so the page never shows a figure no command printed. A section that is missing is appended.
 * Set RELIABILITY_REPORT=0 to print only (a run on a loaded machine, or a scaled-down one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@proteus/web/testing';

export const reliabilityDoc = join(repoRoot, 'docs/RELIABILITY.md');

/** Replaces the text of section `name` (markdown, without the markers) in `text`. */
export function replaceSection(text: string, name: string, body: string): string {
  const begin = `<!-- BEGIN ${name} -->`;
  const end = `<!-- END ${name} -->`;
  const block = `${begin}\n${body.trim()}\n${end}`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from === -1 || to === -1 || to < from) return `${text.trimEnd()}\n\n${block}\n`;
  return text.slice(0, from) + block + text.slice(to + end.length);
}

/** Writes section `name` of docs/RELIABILITY.md unless RELIABILITY_REPORT=0; says which it did. */
export function report(name: string, body: string, path = reliabilityDoc): string {
  if (process.env.RELIABILITY_REPORT === '0') return `docs/RELIABILITY.md not changed (RELIABILITY_REPORT=0)`;
  writeFileSync(path, replaceSection(readFileSync(path, 'utf8'), name, body));
  return `docs/RELIABILITY.md section "${name}" updated`;
}
