import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, loadConfig, objectStorageEnv, requireStorageKeys } from './config.ts';

const schema = z
  .object({
    PORT: env.port(8080),
    REDIS_URL: env.redisUrl(),
    DATABASE_URL: env.postgresUrl().optional(),
    LOG_LEVEL: env.logLevel(),
    ...objectStorageEnv,
  })
  .superRefine(requireStorageKeys);

const load = (vars: Record<string, string>) => loadConfig('api', schema, vars);
const message = (vars: Record<string, string>) => {
  try {
    load(vars);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('applies defaults and coerces', () => {
    const config = load({ REDIS_URL: 'redis://127.0.0.1:6379', PORT: '9000' });
    expect(config).toMatchObject({ PORT: 9000, LOG_LEVEL: 'info', OBJECT_STORAGE_BUCKET: 'proteus', OBJECT_STORAGE_REGION: 'us-east-1' });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('treats empty strings as unset', () => {
    expect(load({ REDIS_URL: 'redis://h:1', DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{}, /REDIS_URL: required, a redis:\/\/ or rediss:\/\/ URL.*\(got unset\)/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL.*\(got "http:\/\/127\.0\.0\.1:6379"\)/],
    [{ REDIS_URL: 'not a url' }, /REDIS_URL: expected a redis:\/\//],
    [{ REDIS_URL: 'redis://h:1', PORT: 'abc' }, /PORT: expected a TCP port number/],
    [{ REDIS_URL: 'redis://h:1', PORT: '70000' }, /PORT: expected a port between 0 and 65535 \(got "70000"\)/],
    [{ REDIS_URL: 'redis://h:1', PORT: '80.5' }, /PORT: expected an integer port/],
    [{ REDIS_URL: 'redis://h:1', DATABASE_URL: 'mysql://x' }, /DATABASE_URL: expected a postgres:\/\/ URL/],
    [{ REDIS_URL: 'redis://h:1', LOG_LEVEL: 'loud' }, /LOG_LEVEL: expected debug, info, warn or error/],
    [{ REDIS_URL: 'redis://h:1', OBJECT_STORAGE_BUCKET: 'Bad_Bucket' }, /OBJECT_STORAGE_BUCKET: expected an S3 bucket name/],
    [{ REDIS_URL: 'redis://h:1', OBJECT_STORAGE_ENDPOINT: 'ftp://x' }, /OBJECT_STORAGE_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/],
    [{ REDIS_URL: 'redis://h:1', OBJECT_STORAGE_ENDPOINT: 'https://s3.example' }, /OBJECT_STORAGE_ACCESS_KEY: required when OBJECT_STORAGE_ENDPOINT is set/],
  ])('names the variable and what it expects: %j', (vars, pattern) => {
    const text = message(vars as Record<string, string>);
    expect(text).toMatch(/^api: invalid configuration/);
    expect(text).toMatch(pattern);
  });

  it('reports every bad variable at once', () => {
    const text = message({ PORT: '-1', LOG_LEVEL: 'x' });
    expect(text).toMatch(/REDIS_URL/);
    expect(text).toMatch(/PORT/);
    expect(text).toMatch(/LOG_LEVEL/);
  });

  it('never echoes the value of a secret variable', () => {
    const secretSchema = z.object({ OBJECT_STORAGE_SECRET_KEY: z.string().min(40, { error: 'expected at least 40 characters' }) });
    expect(() => loadConfig('api', secretSchema, { OBJECT_STORAGE_SECRET_KEY: 'AKIASECRET' })).toThrow(
      /OBJECT_STORAGE_SECRET_KEY: expected at least 40 characters \(got a value\)/,
    );
    try {
      loadConfig('api', secretSchema, { OBJECT_STORAGE_SECRET_KEY: 'AKIASECRET' });
    } catch (error) {
      expect((error as Error).message).not.toContain('AKIASECRET');
    }
  });
});
