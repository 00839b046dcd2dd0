/** Accounts for route tests: sign up through the API, and requests that carry a bearer credential. */
import { createHmac } from 'node:crypto';
import { expect } from 'vitest';
import type { createApp } from '../src/app.ts';
import { TEST_JWT_SECRET } from './deps.ts';

type App = ReturnType<typeof createApp>;

export const PASSWORD = 'correct horse battery staple';

export interface TestAccount {
  user: { id: string; email: string; role: 'user' | 'admin'; displayName: string | null };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** JSON request init; `bearer` adds the Authorization header. */
export function jsonInit(method: string, body?: unknown, bearer?: string): RequestInit {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  return { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) };
}

export async function signUp(app: App, email: string, password = PASSWORD, extra: Record<string, unknown> = {}): Promise<TestAccount> {
  const response = await app.request('/api/auth/signup', jsonInit('POST', { email, password, ...extra }));
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as TestAccount;
}

export async function createKey(app: App, accessToken: string, name = 'shop backend'): Promise<{ id: string; key: string }> {
  const response = await app.request('/api/api-keys', jsonInit('POST', { name }, accessToken));
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { id: string; key: string };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT signed with HMAC over whatever header and payload a test wants (forgeries included). */
export function hmacJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret = TEST_JWT_SECRET,
  hash: 'sha256' | 'sha512' = 'sha256',
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

export const now = () => Math.floor(Date.now() / 1000);
