/**
 * `npm run e2e:audit -w @proteus/bench`: the known-vulnerability audits of what we ship, both
 * reaching the network (so never part of `npm test`): `npm audit` over every workspace, and
 * `pip-audit` over the gpu-worker's virtual environment (pip-audit itself is installed into a
 * tool venv of its own, .tools/pip-audit, on first use). Prints every finding; a high or critical
 * npm finding, and any pip-audit finding (PyPI's advisories carry no severity), must be fixed or
 * explained in docs/RELIABILITY.md (its advisory id or URL named there).
 *
 * An audit that could not look anything up is not a clean audit: pip-audit answers "No known
 * vulnerabilities found" when every package was skipped, so the packages it really audited are
 * counted. Exit 0: both audited, nothing unexplained; 1: an unexplained finding; 2: an audit
 * could not run. With SECURITY_REPORT=1 the summary is written to docs/RELIABILITY.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@proteus/web/testing';
import { reliabilityDoc, report } from './report.ts';

export interface Finding {
  tool: 'npm' | 'pip';
  name: string;
  version: string;
  severity: string;
  id: string;
  title: string;
  fix: string;
}

export interface AuditOutcome {
  tool: 'npm audit' | 'pip-audit';
  /** why nothing could be looked up, when so */
  unavailable?: string;
  audited: number;
  skipped: number;
  findings: Finding[];
}

interface NpmVia {
  title?: string;
  url?: string;
  severity?: string;
  range?: string;
}

/** `npm audit --json` of every workspace. */
export function npmAudit(): AuditOutcome {
  const result = spawnSync('npm', ['audit', '--workspaces', '--include-workspace-root', '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  return readNpmAudit(result.stdout ?? '', result.stderr ?? '', result.status);
}

/** What `npm audit --json` printed, read: its findings, or why it found nothing out. */
export function readNpmAudit(stdout: string, stderr: string, status: number | null): AuditOutcome {
  const result = { stdout, stderr, status };
  let parsed: {
    vulnerabilities?: Record<string, { severity: string; range: string; via: (string | NpmVia)[]; fixAvailable: unknown }>;
    metadata?: { dependencies?: { total?: number } };
    message?: string;
    error?: { summary?: string };
  };
  try {
    parsed = JSON.parse(result.stdout || '{}');
  } catch {
    return { tool: 'npm audit', unavailable: `unreadable output: ${(result.stderr || result.stdout).slice(0, 300)}`, audited: 0, skipped: 0, findings: [] };
  }
  if (!parsed.vulnerabilities) {
    const why = parsed.message ?? parsed.error?.summary ?? result.stderr.split('\n').find((l) => l.includes('error')) ?? `exit ${result.status}`;
    return { tool: 'npm audit', unavailable: why, audited: 0, skipped: 0, findings: [] };
  }
  const findings: Finding[] = [];
  for (const [name, v] of Object.entries(parsed.vulnerabilities)) {
    const advisories = v.via.filter((via): via is NpmVia => typeof via !== 'string');
    const fix = v.fixAvailable === true ? 'npm audit fix' : v.fixAvailable ? `upgrade ${JSON.stringify(v.fixAvailable)}` : 'none';
    // a package flagged only through another (via: [name]) is listed under that one's advisory
    for (const a of advisories.length ? advisories : [{ title: `through ${v.via.join(', ')}`, severity: v.severity }]) {
      findings.push({ tool: 'npm', name, version: a.range ?? v.range, severity: a.severity ?? v.severity, id: a.url ?? name, title: a.title ?? '', fix });
    }
  }
  return { tool: 'npm audit', audited: parsed.metadata?.dependencies?.total ?? 0, skipped: 0, findings };
}

const toolVenv = join(repoRoot, '.tools', 'pip-audit');
const workerPython = join(repoRoot, 'gpu-worker', '.venv', 'bin', 'python');

/** pip-audit over the worker's installed packages; installs pip-audit into .tools/pip-audit first. */
export function pipAudit(): AuditOutcome {
  const pipAuditBin = join(toolVenv, 'bin', 'pip-audit');
  if (!existsSync(pipAuditBin)) {
    const made = spawnSync('python3', ['-m', 'venv', toolVenv], { encoding: 'utf8' });
    const installed =
      made.status === 0 ? spawnSync(join(toolVenv, 'bin', 'pip'), ['install', '-q', 'pip-audit'], { encoding: 'utf8', timeout: 300_000 }) : undefined;
    if (installed?.status !== 0) {
      return {
        tool: 'pip-audit',
        unavailable: `could not install pip-audit: ${(installed ? installed.stderr : made.stderr).slice(0, 300)}`,
        audited: 0,
        skipped: 0,
        findings: [],
      };
    }
  }
  const sitePackages = spawnSync(workerPython, ['-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: 'utf8' }).stdout.trim();
  if (!sitePackages) return { tool: 'pip-audit', unavailable: `no gpu-worker venv at ${workerPython}`, audited: 0, skipped: 0, findings: [] };
  const result = spawnSync(pipAuditBin, ['--path', sitePackages, '--skip-editable', '--format', 'json', '--progress-spinner', 'off'], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  return readPipAudit(result.stdout ?? '', result.stderr ?? '');
}

/** What `pip-audit --format json` printed, read; every package skipped means nothing was audited. */
export function readPipAudit(stdout: string, stderr: string): AuditOutcome {
  const result = { stdout, stderr };
  let parsed: {
    dependencies: {
      name: string;
      version?: string;
      skip_reason?: string;
      vulns?: { id: string; fix_versions: string[]; aliases: string[]; description?: string }[];
    }[];
  };
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    return { tool: 'pip-audit', unavailable: `pip-audit failed: ${result.stderr.slice(-300)}`, audited: 0, skipped: 0, findings: [] };
  }
  const skipped = parsed.dependencies.filter((d) => d.skip_reason);
  const audited = parsed.dependencies.length - skipped.length;
  const findings: Finding[] = parsed.dependencies.flatMap((d) =>
    (d.vulns ?? []).map((v) => ({
      tool: 'pip' as const,
      name: d.name,
      version: d.version ?? '',
      severity: 'unrated',
      id: [v.id, ...v.aliases].join(' / '),
      title: (v.description ?? '').split('\n')[0]?.slice(0, 120) ?? '',
      fix: v.fix_versions.length ? `upgrade to ${v.fix_versions.join(' or ')}` : 'none',
    })),
  );
  const unavailable =
    audited === 0 ? `none of ${parsed.dependencies.length} packages could be looked up (${skipped[0]?.skip_reason ?? 'no reason given'})` : undefined;
  return { tool: 'pip-audit', ...(unavailable ? { unavailable } : {}), audited, skipped: skipped.length, findings };
}

/** Findings that must be fixed or explained: npm's high and critical ones, every pip-audit one. */
export const mustExplain = (f: Finding) => f.tool === 'pip' || f.severity === 'high' || f.severity === 'critical';

/** Whether the doc names the finding's advisory (any of its ids or its URL). */
export const explainedIn = (doc: string, f: Finding) => f.id.split(' / ').some((id) => doc.includes(id));

export function auditReport(outcomes: AuditOutcome[], doc: string, date = new Date()): string {
  const status = outcomes.map(
    (o) =>
      `| ${o.tool} | ${o.unavailable ? `**not audited**: ${o.unavailable.replace(/\|/g, '\\|')}` : `${o.audited} packages audited${o.skipped ? `, ${o.skipped} skipped` : ''}`} | ${o.findings.length} | ${o.findings.filter(mustExplain).length} | ${o.findings.filter((f) => mustExplain(f) && !explainedIn(doc, f)).length} |`,
  );
  const findings = outcomes
    .flatMap((o) => o.findings)
    .map(
      (f) =>
        `| ${f.tool} | ${f.name} ${f.version} | ${f.severity} | ${f.id} | ${f.title.replace(/\|/g, '\\|')} | ${f.fix} | ${mustExplain(f) ? (explainedIn(doc, f) ? 'explained below' : '**unexplained**') : 'no'} |`,
    );
  return [
    `\`npm run e2e:audit -w @proteus/bench\`, ${date.toISOString().slice(0, 10)} (reaches the registries, so not in \`npm test\`):`,
    '',
    '| audit | coverage | findings | high/critical (npm) or any (pip) | unexplained |',
    '|---|---|---|---|---|',
    ...status,
    ...(findings.length
      ? ['', '| tool | package | severity | advisory | title | fix | must be explained |', '|---|---|---|---|---|---|---|', ...findings]
      : []),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outcomes = [npmAudit(), pipAudit()];
  const doc = readFileSync(reliabilityDoc, 'utf8');
  const markdown = auditReport(outcomes, doc);
  console.log(markdown);
  for (const o of outcomes) for (const f of o.findings) console.log(`${o.tool}: ${f.severity} ${f.name} ${f.version} ${f.id} ${f.title} (fix: ${f.fix})`);
  if (process.env.SECURITY_REPORT === '1') console.log(report('security-audit', markdown));
  const unexplained = outcomes.flatMap((o) => o.findings).filter((f) => mustExplain(f) && !explainedIn(doc, f));
  const unavailable = outcomes.filter((o) => o.unavailable);
  if (unexplained.length) console.error(`${unexplained.length} finding(s) neither fixed nor explained in docs/RELIABILITY.md`);
  if (unavailable.length) console.error(`not audited: ${unavailable.map((o) => `${o.tool} (${o.unavailable})`).join('; ')}`);
  process.exitCode = unexplained.length ? 1 : unavailable.length ? 2 : 0;
}
