import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '@proteus/common';
import { describe, expect, it } from 'vitest';
import { arbitratorConfigSchema, metricsOptionsOf, policyConfigOf } from './config.ts';
import { defaultPolicyConfig } from './policy.ts';

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
  it('has defaults matching the policy table and defaultPolicyConfig', () => {
    const config = load({});
    expect(config).toMatchObject({
      PORT: 8083,
      HOST: '127.0.0.1',
      POLICY_STRATEGY: 'table',
      POLICY_VIP_MAX_DEPTH: 10,
      POLICY_ECONOMY_MAX_DEPTH: 50,
      LOG_LEVEL: 'info',
    });
    expect(policyConfigOf(config)).toEqual(defaultPolicyConfig);
    expect(metricsOptionsOf(config)).toEqual({ rateWindowMs: 120_000, waitWindowMs: 60_000, waitSamples: 200 });
  });

  it('reads the adaptive settings', () => {
    const config = load({
      POLICY_STRATEGY: 'adaptive',
      POLICY_TARGET_LATENCY_MS: '15000',
      POLICY_MAX_UTILIZATION: '0.7',
      POLICY_DEGRADED_SPEEDUP: '3.5',
      POLICY_ALLOW_DEGRADED: 'false',
      POLICY_HOLD_MS: '0',
    });
    expect(policyConfigOf(config)).toMatchObject({
      strategy: 'adaptive',
      targetLatencyMs: 15_000,
      maxUtilization: 0.7,
      degradedSpeedup: 3.5,
      allowDegraded: false,
      holdMs: 0,
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

  it('derives unset return thresholds from the table thresholds', () => {
    expect(policyConfigOf(load({ POLICY_VIP_MAX_DEPTH: '20', POLICY_ECONOMY_MAX_DEPTH: '100', POLICY_DEGRADED_WAIT_MS: '3000' }))).toMatchObject({
      vipReturnDepth: 10,
      economyReturnDepth: 60,
      normalReturnWaitMs: 1500,
    });
    expect(policyConfigOf(load({ POLICY_VIP_MAX_DEPTH: '1', POLICY_ECONOMY_MAX_DEPTH: '2' }))).toMatchObject({ vipReturnDepth: 0, economyReturnDepth: 1 });
  });

  it.each([
    ['POLICY_VIP_RETURN_DEPTH', { POLICY_VIP_RETURN_DEPTH: '11' }, 'expected a depth at most POLICY_VIP_MAX_DEPTH (got "11")'],
    [
      'POLICY_ECONOMY_RETURN_DEPTH',
      { POLICY_ECONOMY_RETURN_DEPTH: '51' },
      'expected a depth above POLICY_VIP_RETURN_DEPTH and at most POLICY_ECONOMY_MAX_DEPTH (got "51")',
    ],
    [
      'POLICY_ECONOMY_RETURN_DEPTH',
      { POLICY_ECONOMY_RETURN_DEPTH: '5' },
      'expected a depth above POLICY_VIP_RETURN_DEPTH and at most POLICY_ECONOMY_MAX_DEPTH (got "5")',
    ],
    ['POLICY_NORMAL_RETURN_WAIT_MS', { POLICY_NORMAL_RETURN_WAIT_MS: '10001' }, 'expected a wait at most POLICY_DEGRADED_WAIT_MS (got "10001")'],
  ])('rejects return thresholds that would not sit below the table (%s)', (name, env, message) => {
    expect(problemsOf(env)).toEqual([`${name}: ${message}`]);
  });

  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['POLICY_DEGRADED_WAIT_MS', { POLICY_DEGRADED_WAIT_MS: '0' }],
    ['POLICY_VIP_MAX_DEPTH', { POLICY_VIP_MAX_DEPTH: 'many' }],
    ['PORT', { PORT: 'abc' }],
    ['POLICY_STRATEGY', { POLICY_STRATEGY: 'magic' }],
    ['POLICY_HOLD_MS', { POLICY_HOLD_MS: '-1' }],
    ['POLICY_MAX_UTILIZATION', { POLICY_MAX_UTILIZATION: '1.5' }],
    ['POLICY_MAX_UTILIZATION', { POLICY_MAX_UTILIZATION: '0' }],
    ['POLICY_DEGRADED_SPEEDUP', { POLICY_DEGRADED_SPEEDUP: '0.5' }],
    ['POLICY_ALLOW_DEGRADED', { POLICY_ALLOW_DEGRADED: 'yes' }],
    ['POLICY_MAX_BATCH_SIZE', { POLICY_MAX_BATCH_SIZE: '65' }],
    ['POLICY_WAIT_SAMPLES', { POLICY_WAIT_SAMPLES: '100000' }],
    ['POLICY_TARGET_LATENCY_MS', { POLICY_TARGET_LATENCY_MS: '1.5' }],
  ])('names %s when it is bad', (name, env) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => p.startsWith(`${name}: `))).toBe(true);
  });

  it('has every variable it reads listed in .env.example', () => {
    const listed = new Set(
      readFileSync(join(import.meta.dirname, '..', '..', '..', '.env.example'), 'utf8')
        .split('\n')
        .flatMap((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1] ?? []),
    );
    expect(Object.keys(arbitratorConfigSchema.shape).filter((name) => !listed.has(name))).toEqual([]);
  });
});
