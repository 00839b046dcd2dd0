import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replaceSection, report } from './report.ts';

describe('RELIABILITY.md sections', () => {
  afterEach(() => {
    delete process.env.RELIABILITY_REPORT;
  });

  it('replaces only the named section and keeps the text around it', () => {
    const text = 'intro\n<!-- BEGIN load -->\nold\n<!-- END load -->\nafter\n<!-- BEGIN chaos -->\nc\n<!-- END chaos -->\n';
    const out = replaceSection(text, 'load', '| new |\n');
    expect(out).toBe('intro\n<!-- BEGIN load -->\n| new |\n<!-- END load -->\nafter\n<!-- BEGIN chaos -->\nc\n<!-- END chaos -->\n');
  });

  it('appends a section that is missing, or whose markers are out of order', () => {
    expect(replaceSection('intro\n', 'security', 'x')).toBe('intro\n\n<!-- BEGIN security -->\nx\n<!-- END security -->\n');
    const broken = '<!-- END s -->\n<!-- BEGIN s -->\n';
    expect(replaceSection(broken, 's', 'y')).toContain('<!-- BEGIN s -->\ny\n<!-- END s -->\n');
  });

  it('writes the file, unless RELIABILITY_REPORT=0', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'proteus-report-')), 'R.md');
    writeFileSync(path, 'top\n');
    process.env.RELIABILITY_REPORT = '0';
    expect(report('a', 'one', path)).toContain('not changed');
    expect(readFileSync(path, 'utf8')).toBe('top\n');
    delete process.env.RELIABILITY_REPORT;
    expect(report('a', 'one', path)).toContain('updated');
    expect(readFileSync(path, 'utf8')).toBe('top\n\n<!-- BEGIN a -->\none\n<!-- END a -->\n');
  });
});
