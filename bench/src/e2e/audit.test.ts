/**
 * The audit command's reading of what `npm audit` and `pip-audit` print, offline: findings with
 * their severity and advisory, the ones docs/RELIABILITY.md must explain, and an audit that
 * could look nothing up (an unreachable endpoint, every package skipped) never read as clean.
 */
import { describe, expect, it } from 'vitest';
import { auditReport, explainedIn, mustExplain, readNpmAudit, readPipAudit } from './audit.ts';

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
});
