import { describe, expect, it } from 'vitest';
import { tallyJunit } from './summarize-tests.ts';

describe('tallyJunit', () => {
  it('counts vitest reports', () => {
    const xml = `<?xml version="1.0"?><testsuites name="vitest tests" tests="4" failures="1">
      <testsuite name="src/a.test.ts" tests="4">
        <testcase classname="src/a.test.ts" name="passes" time="0.01"></testcase>
        <testcase classname="src/a.test.ts" name="also passes" time="0.01"/>
        <testcase classname="src/a.test.ts" name="breaks" time="0.01"><failure message="expected 1 to be 2">AssertionError</failure></testcase>
        <testcase classname="src/a.test.ts" name="later" time="0"><skipped/></testcase>
      </testsuite></testsuites>`;
    expect(tallyJunit(xml, '@proteus/x')).toEqual({ passed: 2, failed: 1, skipped: 1, failures: ['@proteus/x: breaks — expected 1 to be 2'] });
  });

  it('counts pytest reports, errors as failures', () => {
    const xml = `<testsuites><testsuite name="pytest" errors="1" failures="0" skipped="0" tests="2">
      <testcase classname="tests.test_a" name="test_ok" time="0.1" />
      <testcase classname="tests.test_a" name="test_setup" time="0.1"><error message="fixture failed">boom</error></testcase>
      </testsuite></testsuites>`;
    expect(tallyJunit(xml, 'py')).toEqual({ passed: 1, failed: 1, skipped: 0, failures: ['py: test_setup — fixture failed'] });
  });

  it('names each failure with the start of its message, unescaped and on one line', () => {
    const message = `expected [ &apos;GET /a as owner: answered 500&apos; ]&#10;to deeply equal [] &amp; ${'x'.repeat(700)}`;
    const xml = `<testsuites><testsuite><testcase name="a &gt; b"><failure message="${message}" type="AssertionError">trace</failure></testcase></testsuite></testsuites>`;
    const [failure] = tallyJunit(xml, 's').failures;
    expect(failure?.startsWith("s: a > b — expected [ 'GET /a as owner: answered 500' ] to deeply equal [] & xxx")).toBe(true);
    expect(failure?.endsWith('x…')).toBe(true);
    expect(failure).not.toContain('trace');
  });

  it('finds nothing in an empty report', () => {
    expect(tallyJunit('<testsuites/>', 'x')).toEqual({ passed: 0, failed: 0, skipped: 0, failures: [] });
  });
});
