/**
 * `npm run e2e:audit -w @proteus/bench`: the known-vulnerability audits of what we ship, both
 * reaching the network (so never part of `npm test`): `npm audit` over every workspace, and
 * `pip-audit` over the gpu-worker's virtual environment (pip-audit itself is installed into a
 * tool venv of its own, .tools/pip-audit, on first use). Prints every finding; a high or critical
 * npm finding, and any pip finding (PyPI's advisories carry no severity), must be fixed or
 * explained in docs/RELIABILITY.md (its advisory id or URL named there).
 *
 * An audit that could not look anything up is not a clean audit: pip-audit answers "No known
 * vulnerabilities found" when every package was skipped, so the packages it really audited are
 * counted. When pip-audit could audit nothing (a registry proxy that serves only PyPI's
 * latest-release JSON, `/pypi/<name>/json`, and 404s the per-version one pip-audit reads), the
 * worker's packages are looked up there instead: a package installed at its latest release is
 * audited from that release's `vulnerabilities`, one installed at any other version has no data
 * here and is listed as not audited, never counted clean.
 *
 * Exit 0: both audited (the fallback: at least one package), nothing unexplained; 1: an
 * unexplained finding; 2: an audit could not run. With SECURITY_REPORT=1 the summary is written
 * to docs/RELIABILITY.md.
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

/** A package the audit could not check, and why, so a reader sees what is unchecked. */
export interface Unaudited {
  name: string;
  installed: string;
  /** PyPI's latest release, when it was read */
  latest?: string;
  reason: string;
}

export const pypiLatestTool = 'PyPI JSON (latest releases)';

export interface AuditOutcome {
  tool: 'npm audit' | 'pip-audit' | typeof pypiLatestTool;
  /** why nothing could be looked up, when so */
  unavailable?: string;
  /** why this audit ran instead of the first choice, when it is a fallback */
  fallbackFor?: string;
  audited: number;
  skipped: number;
  /** the skipped packages by name, where the tool says which */
  unaudited?: Unaudited[];
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

/** A distribution installed in the worker's venv. */
export interface Installed {
  name: string;
  version: string;
  editable: boolean;
}

// Every distribution the venv's own interpreter sees; editable ones (proteus-worker itself) are ours, not PyPI's.
const listInstalled = `
import importlib.metadata as m, json
out = []
for d in m.distributions():
    try:
        direct = json.loads(d.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    out.append({"name": d.metadata["Name"], "version": d.version, "editable": bool(direct.get("dir_info", {}).get("editable"))})
print(json.dumps(out))
`;

/** The worker venv's installed distributions, or why they could not be listed. */
export function installedDistributions(python = workerPython): Installed[] | string {
  const result = spawnSync(python, ['-c', listInstalled], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) return `could not list the packages of ${python}: ${(result.stderr || String(result.error ?? '')).slice(-300)}`;
  return readInstalled(result.stdout);
}

/** The listing printed by `listInstalled`, read: one entry per canonical name, or why it is unreadable. */
export function readInstalled(stdout: string): Installed[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return `unreadable package list: ${stdout.slice(0, 200)}`;
  }
  if (!Array.isArray(parsed)) return `unreadable package list: ${stdout.slice(0, 200)}`;
  const seen = new Map<string, Installed>();
  for (const d of parsed as Partial<Installed>[]) {
    if (typeof d?.name !== 'string' || typeof d.version !== 'string') continue;
    // the first on sys.path is the one imported; a stale duplicate .dist-info is not
    if (!seen.has(canonicalName(d.name))) seen.set(canonicalName(d.name), { name: d.name, version: d.version, editable: d.editable === true });
  }
  return [...seen.values()];
}

/** PEP 503's normalized project name, the one PyPI's URLs use. */
export const canonicalName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** One project's `https://pypi.org/pypi/<name>/json`, parsed; throws on a non-2xx answer or a timeout. */
export type PypiLookup = (name: string) => Promise<unknown>;

export const fetchPypiJson: PypiLookup = async (name) => {
  const response = await fetch(`https://pypi.org/pypi/${encodeURIComponent(canonicalName(name))}/json`, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
};

interface PypiVulnerability {
  id?: unknown;
  aliases?: unknown;
  fixed_in?: unknown;
  summary?: unknown;
  details?: unknown;
  withdrawn?: unknown;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/**
 * What PyPI's latest-release JSON says about one installed package: audited (with the release's
 * advisories, withdrawn ones left out) when the installed version is that release, otherwise
 * the reason it could not be audited from here.
 */
export function classifyPypiRelease(installed: Installed, body: unknown): { findings: Finding[] } | { unaudited: Unaudited } {
  const { info, vulnerabilities } = (body ?? {}) as { info?: { version?: unknown }; vulnerabilities?: unknown };
  const latest = info?.version;
  if (typeof latest !== 'string' || (vulnerabilities !== undefined && vulnerabilities !== null && !Array.isArray(vulnerabilities))) {
    return { unaudited: { name: installed.name, installed: installed.version, reason: 'unreadable answer (no info.version or vulnerabilities list)' } };
  }
  if (normalVersion(latest) !== normalVersion(installed.version)) {
    return {
      unaudited: { name: installed.name, installed: installed.version, latest, reason: 'not the latest release: no advisory data for this version here' },
    };
  }
  // pip-audit's rule: an advisory that shares an alias with one already listed (PYSEC ones first) is the same one
  const entries = ((vulnerabilities ?? []) as PypiVulnerability[]).filter((v) => typeof v?.id === 'string' && !v.withdrawn);
  const ordered = [...entries.filter((v) => (v.id as string).startsWith('PYSEC')), ...entries.filter((v) => !(v.id as string).startsWith('PYSEC'))];
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const v of ordered) {
    const ids = [v.id as string, ...strings(v.aliases)];
    if (ids.some((id) => seen.has(id))) continue;
    for (const id of ids) seen.add(id);
    const fixedIn = strings(v.fixed_in);
    const text = typeof v.summary === 'string' && v.summary ? v.summary : typeof v.details === 'string' ? v.details : '';
    findings.push({
      tool: 'pip',
      name: installed.name,
      version: installed.version,
      severity: 'unrated',
      id: ids.join(' / '),
      title: text.split('\n')[0]?.slice(0, 120) ?? '',
      fix: fixedIn.length ? `upgrade to ${fixedIn.join(' or ')}` : 'none',
    });
  }
  return { findings };
}

// PEP 440 spellings differ only in case and surrounding blanks as PyPI and importlib.metadata print them
const normalVersion = (version: string) => version.trim().toLowerCase();

/** Runs `task` over `items`, at most `limit` at a time, keeping their order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * The fallback when pip-audit could audit nothing: every non-editable installed package looked up
 * in PyPI's latest-release JSON (`lookup`, a few at a time). `why` says why pip-audit could not.
 */
export async function pypiLatestAudit(installed: Installed[], lookup: PypiLookup = fetchPypiJson, why?: string, parallel = 6): Promise<AuditOutcome> {
  const packages = installed.filter((d) => !d.editable);
  const answers = await mapLimit(packages, parallel, async (d) => {
    try {
      return classifyPypiRelease(d, await lookup(d.name));
    } catch (error) {
      return { unaudited: { name: d.name, installed: d.version, reason: `lookup failed: ${error instanceof Error ? error.message : String(error)}` } };
    }
  });
  const findings = answers.flatMap((a) => ('findings' in a ? a.findings : []));
  const unaudited = answers.flatMap((a) => ('unaudited' in a ? [a.unaudited] : []));
  const audited = packages.length - unaudited.length;
  return {
    tool: pypiLatestTool,
    ...(why ? { fallbackFor: `pip-audit could not audit: ${why}` } : {}),
    ...(audited === 0 ? { unavailable: `none of ${packages.length} packages could be audited (${unaudited[0]?.reason ?? 'no packages installed'})` } : {}),
    audited,
    skipped: unaudited.length,
    unaudited,
    findings,
  };
}

/** pip-audit when it can audit; when it audits nothing, PyPI's latest-release JSON instead. */
export async function pythonAudit(lookup: PypiLookup = fetchPypiJson): Promise<AuditOutcome> {
  const first = pipAudit();
  if (!first.unavailable) return first;
  const installed = installedDistributions();
  if (typeof installed === 'string') return { ...first, unavailable: `${first.unavailable}; no fallback: ${installed}` };
  return pypiLatestAudit(installed, lookup, first.unavailable);
}

/** Findings that must be fixed or explained: npm's high and critical ones, every pip-audit one. */
export const mustExplain = (f: Finding) => f.tool === 'pip' || f.severity === 'high' || f.severity === 'critical';

/** Whether the doc names the finding's advisory (any of its ids or its URL). */
export const explainedIn = (doc: string, f: Finding) => f.id.split(' / ').some((id) => doc.includes(id));

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** An outcome's coverage: what was audited, what was not, and why it is a fallback when it is one. */
function coverage(o: AuditOutcome): string {
  const audited = o.unavailable
    ? `**not audited**: ${o.unavailable}`
    : `${o.audited} packages audited${o.skipped ? `, ${o.skipped} ${o.unaudited ? 'not audited (listed below)' : 'skipped'}` : ''}`;
  return cell(o.fallbackFor ? `${audited}; ${o.fallbackFor}` : audited);
}

export function auditReport(outcomes: AuditOutcome[], doc: string, date = new Date()): string {
  const status = outcomes.map(
    (o) =>
      `| ${o.tool} | ${coverage(o)} | ${o.findings.length} | ${o.findings.filter(mustExplain).length} | ${o.findings.filter((f) => mustExplain(f) && !explainedIn(doc, f)).length} |`,
  );
  const findings = outcomes
    .flatMap((o) => o.findings)
    .map(
      (f) =>
        `| ${f.tool} | ${f.name} ${f.version} | ${f.severity} | ${f.id} | ${cell(f.title)} | ${f.fix} | ${mustExplain(f) ? (explainedIn(doc, f) ? 'explained below' : '**unexplained**') : 'no'} |`,
    );
  // per audit, sorted by name so two runs' tables compare line by line
  const unaudited = outcomes
    .filter((o) => o.unaudited?.length)
    .flatMap((o) => [
      '',
      `Not audited by ${o.tool} (no advisory data reachable for the installed version):`,
      '',
      '| package | installed | latest | why |',
      '|---|---|---|---|',
      ...[...(o.unaudited ?? [])]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((u) => `| ${u.name} | ${u.installed} | ${u.latest ?? '?'} | ${cell(u.reason)} |`),
    ]);
  return [
    `\`npm run e2e:audit -w @proteus/bench\`, ${date.toISOString().slice(0, 10)} (reaches the registries, so not in \`npm test\`):`,
    '',
    '| audit | coverage | findings | high/critical (npm) or any (pip) | unexplained |',
    '|---|---|---|---|---|',
    ...status,
    ...(findings.length
      ? ['', '| tool | package | severity | advisory | title | fix | must be explained |', '|---|---|---|---|---|---|---|', ...findings]
      : []),
    ...unaudited,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outcomes = [npmAudit(), await pythonAudit()];
  const doc = readFileSync(reliabilityDoc, 'utf8');
  const markdown = auditReport(outcomes, doc);
  console.log(markdown);
  for (const o of outcomes) for (const f of o.findings) console.log(`${o.tool}: ${f.severity} ${f.name} ${f.version} ${f.id} ${f.title} (fix: ${f.fix})`);
  if (process.env.SECURITY_REPORT === '1') console.log(report('security-audit', markdown));
  const unexplained = outcomes.flatMap((o) => o.findings).filter((f) => mustExplain(f) && !explainedIn(doc, f));
  const unavailable = outcomes.filter((o) => o.unavailable);
  const partial = outcomes.filter((o) => !o.unavailable && o.unaudited?.length);
  if (unexplained.length) console.error(`${unexplained.length} finding(s) neither fixed nor explained in docs/RELIABILITY.md`);
  if (partial.length)
    console.error(`partly audited: ${partial.map((o) => `${o.tool} (${o.unaudited?.length} packages not audited, listed above)`).join('; ')}`);
  if (unavailable.length) console.error(`not audited: ${unavailable.map((o) => `${o.tool} (${o.unavailable})`).join('; ')}`);
  process.exitCode = unexplained.length ? 1 : unavailable.length ? 2 : 0;
}
