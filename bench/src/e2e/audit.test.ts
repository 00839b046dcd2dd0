/**
 * The audit command's reading of what `npm audit` and `pip-audit` print, offline: findings with
 * their severity and advisory, the ones docs/RELIABILITY.md must explain, and an audit that
 * could look nothing up (an unreachable endpoint, every package skipped) never read as clean; and
 * the fallback on PyPI's latest-release JSON fed recorded answers (no network: the lookup is a
 * fake), where only a package installed at that release counts as audited.
 */
import { describe, expect, it } from 'vitest';
import {
  auditReport,
  canonicalName,
  classifyPypiRelease,
  explainedIn,
  type Installed,
  installedDistributions,
  mustExplain,
  type PypiLookup,
  pypiLatestAudit,
  pypiLatestTool,
  readInstalled,
  readNpmAudit,
  readPipAudit,
} from './audit.ts';

const npmOutput = JSON.stringify({
  vulnerabilities: {
    tar: {
      severity: 'high',
      range: '<6.2.1',
      via: [{ title: 'Arbitrary file creation', url: 'https://github.com/advisories/GHSA-aaaa', severity: 'high', range: '<6.2.1' }],
      fixAvailable: true,
    },
    'some-wrapper': { severity: 'moderate', range: '*', via: ['tar'], fixAvailable: false },
  },
  metadata: { dependencies: { total: 812 } },
});

describe('the audit command', () => {
  it('reads npm audit findings: advisory, severity, fix; only high and critical must be explained', () => {
    const outcome = readNpmAudit(npmOutput, '', 1);
    expect(outcome).toMatchObject({ tool: 'npm audit', audited: 812 });
    expect(outcome.unavailable).toBeUndefined();
    expect(outcome.findings).toEqual([
      {
        tool: 'npm',
        name: 'tar',
        version: '<6.2.1',
        severity: 'high',
        id: 'https://github.com/advisories/GHSA-aaaa',
        title: 'Arbitrary file creation',
        fix: 'npm audit fix',
      },
      { tool: 'npm', name: 'some-wrapper', version: '*', severity: 'moderate', id: 'some-wrapper', title: 'through tar', fix: 'none' },
    ]);
    expect(outcome.findings.map(mustExplain)).toEqual([true, false]);
  });

  it('says npm audit did not run when the registry refuses the audit endpoint, or prints garbage', () => {
    const refused = readNpmAudit(
      JSON.stringify({ message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk' }),
      '',
      1,
    );
    expect(refused.unavailable).toContain('405');
    expect(readNpmAudit('<html>', 'npm error', 1).unavailable).toContain('unreadable');
  });

  it('reads pip-audit findings, and counts a run that skipped every package as not audited', () => {
    const found = readPipAudit(
      JSON.stringify({
        dependencies: [
          {
            name: 'jinja2',
            version: '2.4.1',
            vulns: [{ id: 'PYSEC-2019-217', fix_versions: ['2.10.1'], aliases: ['CVE-2019-10906'], description: 'sandbox escape' }],
          },
          { name: 'numpy', version: '2.0.0', vulns: [] },
          { name: 'proteus-worker', skip_reason: 'editable' },
        ],
      }),
      '',
    );
    expect(found).toMatchObject({ audited: 2, skipped: 1 });
    expect(found.unavailable).toBeUndefined();
    expect(found.findings).toEqual([
      {
        tool: 'pip',
        name: 'jinja2',
        version: '2.4.1',
        severity: 'unrated',
        id: 'PYSEC-2019-217 / CVE-2019-10906',
        title: 'sandbox escape',
        fix: 'upgrade to 2.10.1',
      },
    ]);
    expect(mustExplain(found.findings[0] as never)).toBe(true);

    const blind = readPipAudit(
      JSON.stringify({ dependencies: [{ name: 'boto3', skip_reason: 'Dependency not found on PyPI and could not be audited: boto3 (1.44.8)' }] }),
      '',
    );
    expect(blind.unavailable).toContain('none of 1 packages could be looked up');
    expect(readPipAudit('', 'Traceback').unavailable).toContain('pip-audit failed');
  });

  it('counts a finding explained when the doc names any of its advisory ids, and says which are not', () => {
    const finding = readPipAudit(
      JSON.stringify({ dependencies: [{ name: 'jinja2', version: '2.4.1', vulns: [{ id: 'PYSEC-1', fix_versions: [], aliases: ['CVE-2'] }] }] }),
      '',
    ).findings[0] as never;
    expect(explainedIn('CVE-2 does not reach us because…', finding)).toBe(true);
    expect(explainedIn('nothing here', finding)).toBe(false);
    const markdown = auditReport([readNpmAudit(npmOutput, '', 1)], 'GHSA-nothing');
    expect(markdown).toContain('| npm audit | 812 packages audited | 2 | 1 | 1 |');
    expect(markdown).toContain('**unexplained**');
  });

  describe("the fallback on PyPI's latest-release JSON", () => {
    // the shape of https://pypi.org/pypi/<name>/json, trimmed to what is read (recorded from PyPI)
    const release = (name: string, version: string, vulnerabilities: unknown[] = []) => ({
      info: { name, version, summary: '…' },
      releases: {},
      urls: [],
      vulnerabilities,
      last_serial: 1,
    });
    const advisory = {
      aliases: ['CVE-2024-0001', 'GHSA-aaaa-bbbb-cccc'],
      details: 'A crafted archive lets an attacker write outside the target folder.\nMore detail.',
      fixed_in: ['2.8.1', '3.0.0'],
      id: 'PYSEC-2024-1',
      link: 'https://osv.dev/vulnerability/PYSEC-2024-1',
      source: 'osv',
      summary: null,
      withdrawn: null,
    };
    const at = (name: string, version: string): Installed => ({ name, version, editable: false });

    it('audits a package installed at the latest release: each live advisory a finding, withdrawn and duplicate ones left out', () => {
      const ghsaTwin = { ...advisory, id: 'GHSA-aaaa-bbbb-cccc', aliases: ['CVE-2024-0001'], summary: 'Path traversal' };
      const withdrawn = { ...advisory, id: 'PYSEC-2023-9', aliases: ['CVE-2023-9'], withdrawn: '2024-02-01T00:00:00Z' };
      const own = { ...advisory, id: 'GHSA-zzzz-yyyy-xxxx', aliases: [], fixed_in: [], summary: 'Denial of service | on huge input' };
      expect(classifyPypiRelease(at('urllib3', '2.8.0'), release('urllib3', '2.8.0', [ghsaTwin, advisory, withdrawn, own]))).toEqual({
        findings: [
          {
            tool: 'pip',
            name: 'urllib3',
            version: '2.8.0',
            severity: 'unrated',
            id: 'PYSEC-2024-1 / CVE-2024-0001 / GHSA-aaaa-bbbb-cccc',
            title: 'A crafted archive lets an attacker write outside the target folder.',
            fix: 'upgrade to 2.8.1 or 3.0.0',
          },
          {
            tool: 'pip',
            name: 'urllib3',
            version: '2.8.0',
            severity: 'unrated',
            id: 'GHSA-zzzz-yyyy-xxxx',
            title: 'Denial of service | on huge input',
            fix: 'none',
          },
        ],
      });
      expect(classifyPypiRelease(at('numpy', '2.4.6'), release('numpy', '2.4.6'))).toEqual({ findings: [] });
      // no `vulnerabilities` key: PyPI knows none for the project
      expect(classifyPypiRelease(at('six', '1.17.0'), { info: { version: '1.17.0' } })).toEqual({ findings: [] });
    });

    it('lists a package installed at an older release as not audited, even when the latest one has advisories', () => {
      expect(classifyPypiRelease(at('pip', '23.2.1'), release('pip', '26.3', [advisory]))).toEqual({
        unaudited: { name: 'pip', installed: '23.2.1', latest: '26.3', reason: 'not the latest release: no advisory data for this version here' },
      });
    });

    it('lists a package whose answer is not PyPI JSON as not audited (bad answers from the proxy)', () => {
      for (const body of [null, '<html>', { info: {} }, { info: { version: 3 } }, { info: { version: '1.0' }, vulnerabilities: 'none' }]) {
        expect(classifyPypiRelease(at('x', '1.0'), body)).toEqual({
          unaudited: { name: 'x', installed: '1.0', reason: 'unreadable answer (no info.version or vulnerabilities list)' },
        });
      }
    });

    it('looks up every non-editable package by its canonical name and counts what was and was not audited', async () => {
      const answers: Record<string, unknown> = {
        jinja2: release('Jinja2', '3.1.6', [advisory]),
        pip: release('pip', '26.3'),
        'typing-extensions': release('typing_extensions', '4.16.0'),
      };
      const asked: string[] = [];
      const lookup: PypiLookup = async (name) => {
        asked.push(canonicalName(name));
        const body = answers[canonicalName(name)];
        if (!body) throw new Error('HTTP 404');
        return body;
      };
      const outcome = await pypiLatestAudit(
        [
          at('Jinja2', '3.1.6'),
          at('pip', '23.2.1'),
          at('typing_extensions', '4.16.0'),
          at('gone', '0.1'),
          { name: 'proteus-worker', version: '0.1.0', editable: true },
        ],
        lookup,
        'none of 90 packages could be looked up (Dependency not found on PyPI)',
        2,
      );
      expect(asked.sort()).toEqual(['gone', 'jinja2', 'pip', 'typing-extensions']);
      expect(outcome).toMatchObject({ tool: pypiLatestTool, audited: 2, skipped: 2 });
      expect(outcome.unavailable).toBeUndefined();
      expect(outcome.fallbackFor).toContain('pip-audit could not audit: none of 90 packages');
      expect(outcome.unaudited).toEqual([
        { name: 'pip', installed: '23.2.1', latest: '26.3', reason: 'not the latest release: no advisory data for this version here' },
        { name: 'gone', installed: '0.1', reason: 'lookup failed: HTTP 404' },
      ]);
      expect(outcome.findings.map((f) => `${f.name} ${f.version} ${f.id}`)).toEqual(['Jinja2 3.1.6 PYSEC-2024-1 / CVE-2024-0001 / GHSA-aaaa-bbbb-cccc']);

      const markdown = auditReport([outcome], 'CVE-2024-0001 is explained here');
      expect(markdown).toContain(`| ${pypiLatestTool} | 2 packages audited, 2 not audited (listed below); pip-audit could not audit: none of 90 packages`);
      expect(markdown).toContain('| pip | Jinja2 3.1.6 | unrated | PYSEC-2024-1 / CVE-2024-0001 / GHSA-aaaa-bbbb-cccc |');
      expect(markdown).toContain('explained below');
      expect(markdown).toContain(`Not audited by ${pypiLatestTool}`);
      expect(markdown).toContain('| gone | 0.1 | ? | lookup failed: HTTP 404 |\n| pip | 23.2.1 | 26.3 | not the latest release');
    });

    it('counts a fallback that could look nothing up as not audited, never clean', async () => {
      const down: PypiLookup = async () => {
        throw new Error('This operation was aborted');
      };
      const outcome = await pypiLatestAudit([at('numpy', '2.4.6'), at('torch', '2.15.0')], down);
      expect(outcome).toMatchObject({ audited: 0, skipped: 2, findings: [] });
      expect(outcome.unavailable).toBe('none of 2 packages could be audited (lookup failed: This operation was aborted)');
      expect(auditReport([outcome], '')).toContain('**not audited**: none of 2 packages could be audited');
    });

    it("reads the venv's package list: one entry per canonical name, editables marked, garbage refused", () => {
      expect(
        readInstalled(
          JSON.stringify([
            { name: 'Jinja2', version: '3.1.6', editable: false },
            { name: 'jinja2', version: '2.0', editable: false },
            { name: 'proteus-worker', version: '0.1.0', editable: true },
            { name: 'broken' },
          ]),
        ),
      ).toEqual([
        { name: 'Jinja2', version: '3.1.6', editable: false },
        { name: 'proteus-worker', version: '0.1.0', editable: true },
      ]);
      expect(readInstalled('Traceback (most recent call last)')).toContain('unreadable package list');
      expect(readInstalled('{"name": "x"}')).toContain('unreadable package list');
      // the listing script itself, run by a local interpreter (no network), and a missing interpreter
      const local = installedDistributions('python3');
      expect(Array.isArray(local) && local.every((d) => typeof d.name === 'string' && typeof d.version === 'string')).toBe(true);
      expect(installedDistributions('/nonexistent/bin/python')).toContain('could not list the packages of /nonexistent/bin/python');
    });
  });
});
