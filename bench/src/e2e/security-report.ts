/**
 * The security suite's tables, as markdown for the `security` section of docs/RELIABILITY.md:
 * the authorization matrix counted per route group, each bad input with what was expected and
 * what was measured, and what the log scan looked for.
 */
import type { InputResult } from './security-inputs.ts';
import type { CellResult } from './security-matrix.ts';

export interface SecurityFigures {
  cells: CellResult[];
  inputs: InputResult[];
  logScan: { bytes: number; lines: number; secrets: number; kinds: Record<string, number>; found: string[] };
  seconds: number;
  /** HTTP requests the suite made, and the most made with one credential (the api allows 600 a minute per principal) */
  requests: { total: number; mostByOne: number };
}

const cellText = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function securityReport({ cells, inputs, logScan, seconds, requests }: SecurityFigures): string {
  const groups = [...new Set(cells.map((c) => c.group))];
  const matrix = groups.map((group) => {
    const of = cells.filter((c) => c.group === group);
    const routes = new Set(of.map((c) => c.route)).size;
    const statuses = (side: (c: CellResult) => boolean) => [...new Set(of.filter(side).map((c) => c.measured))].sort((a, b) => a - b).join(', ') || '-';
    const owner = (c: CellResult) => c.principal === 'owner' || c.principal === 'API key of owner' || c.principal === 'admin';
    return `| ${group} | ${routes} | ${of.length} | ${of.filter((c) => !c.failure).length} | ${statuses(owner)} | ${statuses((c) => !owner(c))} |`;
  });
  const failedCells = cells.filter((c) => c.failure).map((c) => `- ${c.route} as ${c.principal}: ${cellText(c.failure ?? '')}`);
  const inputRows = inputs.map(
    (r) =>
      `| ${cellText(r.group)} | ${cellText(r.name)} | ${cellText(r.expected)} | ${cellText(r.measured)} | ${r.failure ? `**no**: ${cellText(r.failure)}` : 'yes'} |`,
  );
  const kinds = Object.entries(logScan.kinds)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${n} ${kind}${n === 1 ? '' : 's'}`)
    .join(', ');
  return [
    '## Security',
    '',
    `\`npm run e2e:security -w @proteus/bench\` (also in \`npm test\` as \`bench/src/e2e/security.test.ts\`, which prints these tables without writing them). ` +
      `The dev stack on SeaweedFS (which checks POST policies and signatures), LOG_LEVEL=debug; ${new Date().toISOString().slice(0, 10)}, ${seconds.toFixed(0)} s in all including the stack's start; ${requests.total} HTTP requests, at most ${requests.mostByOne} with one credential.`,
    '',
    'Authorization: every route of the served `/api/openapi.json` (a route without a row fails the suite) x {owner, another user, anonymous, API key of the owner, API key of another user}, plus an admin on the two admin routes. Another principal gets 404 for the owner’s things, anonymous 401, a key where only tokens are allowed 403; every refusal is problem+json with its stable type; after each refused request nothing was queued and the owner’s VTON is unchanged.',
    '',
    '| route group | routes | cells | as expected | statuses of the owner (token or key; admin) | statuses of the others |',
    '|---|---|---|---|---|---|',
    ...matrix,
    `| all | ${new Set(cells.map((c) => c.route)).size} | ${cells.length} | ${cells.filter((c) => !c.failure).length} | | |`,
    ...(failedCells.length ? ['', 'Cells not as expected:', ...failedCells] : []),
    '',
    'Bad inputs (each also checked for what it may not leave behind: queue entries, the owner’s listed jobs and VTONs, a verified copy):',
    '',
    '| kind | input | expected | measured | as expected |',
    '|---|---|---|---|---|',
    ...inputRows,
    '',
    `Log scan: ${logScan.bytes} bytes (${logScan.lines} lines) of every part’s output over the whole run, searched for ${logScan.secrets} secrets the run handed out or used (${kinds}): ${logScan.found.length ? `**found ${logScan.found.join(', ')}**` : 'none found'}.`,
  ].join('\n');
}
