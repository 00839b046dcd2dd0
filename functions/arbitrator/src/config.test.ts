import { ConfigError, loadConfig } from '@proteus/common';
import { describe, expect, it } from 'vitest';
import { arbitratorConfigSchema } from './config.ts';

const base = { REDIS_URL: 'redis://127.0.0.1:6379' };
const load = (env: Record<string, string>) => loadConfig('arbitrator', arbitratorConfigSchema, { ...base, ...env });

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('arbitrator config', () => {
  it('has defaults matching the policy table', () => {
    expect(load({})).toMatchObject({
      PORT: 8083,
      HOST: '127.0.0.1',
      POLICY_VIP_MAX_DEPTH: 10,
      POLICY_ECONOMY_MAX_DEPTH: 50,
      POLICY_DEGRADED_WAIT_MS: 10_000,
      LOG_LEVEL: 'info',
    });
  });

  it('accepts an economy depth above the VIP depth', () => {
    expect(load({ POLICY_VIP_MAX_DEPTH: '10', POLICY_ECONOMY_MAX_DEPTH: '11' })).toMatchObject({ POLICY_VIP_MAX_DEPTH: 10, POLICY_ECONOMY_MAX_DEPTH: 11 });
  });

  it.each([
    [{ POLICY_VIP_MAX_DEPTH: '10', POLICY_ECONOMY_MAX_DEPTH: '10' }, '"10"'],
    [{ POLICY_VIP_MAX_DEPTH: '20', POLICY_ECONOMY_MAX_DEPTH: '5' }, '"5"'],
    [{ POLICY_ECONOMY_MAX_DEPTH: '8' }, '"8"'],
  ])('rejects POLICY_ECONOMY_MAX_DEPTH <= POLICY_VIP_MAX_DEPTH (%o), naming it', (env, got) => {
    expect(problemsOf(env)).toEqual([`POLICY_ECONOMY_MAX_DEPTH: expected a depth above POLICY_VIP_MAX_DEPTH (got ${got})`]);
  });

  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['POLICY_DEGRADED_WAIT_MS', { POLICY_DEGRADED_WAIT_MS: '0' }],
    ['POLICY_VIP_MAX_DEPTH', { POLICY_VIP_MAX_DEPTH: 'many' }],
    ['PORT', { PORT: 'abc' }],
  ])('names %s when it is bad', (name, env) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.startsWith(`${name}: `))).toBe(true);
  });
});
