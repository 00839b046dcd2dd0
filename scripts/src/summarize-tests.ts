/**
 * Sums the JUnit reports every package's test script writes to `test-results/junit.xml`
 * (vitest and pytest alike) and prints one line: `N passed, N failed, N skipped`.
 * A package with a test script but no report counts as one failure: it crashed before reporting.
 * Reports named on the command line (the repo-wide type checks and lint) are added in.
 * Each failure is listed with the start of its message: a CI log's tail says what broke.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspaces } from './workspaces.ts';

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

const MESSAGE_CHARS = 600;
const clip = (text: string) => (text.length > MESSAGE_CHARS ? `${text.slice(0, MESSAGE_CHARS)}…` : text);
const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (text: string) =>
  text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, code: string) => {
    if (code.startsWith('#x') || code.startsWith('#X')) return String.fromCodePoint(Number.parseInt(code.slice(2), 16));
    if (code.startsWith('#')) return String.fromCodePoint(Number(code.slice(1)));
    return entities[code] ?? whole;
  });

export function tallyJunit(xml: string, suite: string): Tally {
  const tally: Tally = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const match of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = match[1] ?? '';
    const body = match[2] ?? '';
    const name = /\bname="([^"]*)"/.exec(attrs)?.[1] ?? '?';
    const failure = /<(?:failure|error)\b([^>]*)/.exec(body);
    if (failure) {
      tally.failed++;
      const message = unescapeXml(/\bmessage="([^"]*)"/.exec(failure[1] ?? '')?.[1] ?? '')
        .replace(/\s+/g, ' ')
        .trim();
      tally.failures.push(`${suite}: ${unescapeXml(name)}${message ? ` — ${clip(message)}` : ''}`);
    } else if (/<skipped\b/.test(body)) tally.skipped++;
    else tally.passed++;
  }
  return tally;
}

const missing = (name: string, report: string): Tally => ({
  passed: 0,
  failed: 1,
  skipped: 0,
  failures: [`${name}: no test report (${report}): the suite did not run to the end`],
});

if (import.meta.main) {
  const total: Tally = { passed: 0, failed: 0, skipped: 0, failures: [] };
  const add = (name: string, report: string) => {
    const t = existsSync(report) ? tallyJunit(readFileSync(report, 'utf8'), name) : missing(name, report);
    console.log(`  ${name.padEnd(22)} ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
    total.passed += t.passed;
    total.failed += t.failed;
    total.skipped += t.skipped;
    total.failures.push(...t.failures);
  };
  for (const ws of workspaces()) if (ws.scripts.test) add(ws.name, join(ws.dir, 'test-results', 'junit.xml'));
  for (const report of process.argv.slice(2)) add('checks', report);
  for (const f of total.failures) console.log(`  FAILED ${f}`);
  console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  process.exit(total.failed ? 1 : 0);
}
