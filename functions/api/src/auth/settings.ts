/** The api's account and token settings, read from the environment (part of apiConfigSchema). */
import { isIP } from 'node:net';
import { env } from '@proteus/common';
import { z } from 'zod';

const commaList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const ipOrCidr = (entry: string) => {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 6 ? 128 : 32);
};

export const authEnv = {
  /** HMAC key of the access tokens (HS256, pinned) */
  JWT_SECRET: z.string({ error: 'required, a random secret of at least 32 characters' }).min(32, { error: 'expected at least 32 characters' }),
  /** access token lifetime */
  JWT_TTL_S: env.positiveInt(900),
  /** refresh token lifetime */
  REFRESH_TTL_S: env.positiveInt(30 * 24 * 3600),
  /** login attempts allowed per window, per account and per client IP */
  LOGIN_RATE_LIMIT: env.positiveInt(10),
  LOGIN_RATE_WINDOW_S: env.positiveInt(900),
  /** requests a minute per principal (a user's access tokens, or one API key) */
  RATE_LIMIT_PER_MINUTE: env.positiveInt(600),
  /**
   * peers whose X-Forwarded-For is believed (comma-separated IPs or CIDRs): the dev gateway
   * on loopback by default; add the ingress's addresses in the cluster
   */
  TRUSTED_PROXIES: z
    .string()
    .default('127.0.0.1,::1')
    .transform(commaList)
    .refine((entries) => entries.every(ipOrCidr), { error: 'expected comma-separated IP addresses or CIDRs, e.g. 127.0.0.1,10.0.0.0/8' }),
  /** accounts with these e-mail addresses are admins (comma-separated) */
  ADMIN_EMAILS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
};

export interface AuthSettings {
  jwtSecret: string;
  accessTtlS: number;
  refreshTtlS: number;
  loginLimit: number;
  loginWindowS: number;
  adminEmails: string[];
  ratePerMinute: number;
  /** IPs and CIDRs whose X-Forwarded-For is believed */
  trustedProxies: string[];
}

export function authSettingsFrom(c: {
  JWT_SECRET: string;
  JWT_TTL_S: number;
  REFRESH_TTL_S: number;
  LOGIN_RATE_LIMIT: number;
  LOGIN_RATE_WINDOW_S: number;
  ADMIN_EMAILS: string[];
  RATE_LIMIT_PER_MINUTE: number;
  TRUSTED_PROXIES: string[];
}): AuthSettings {
  return {
    jwtSecret: c.JWT_SECRET,
    accessTtlS: c.JWT_TTL_S,
    refreshTtlS: c.REFRESH_TTL_S,
    loginLimit: c.LOGIN_RATE_LIMIT,
    loginWindowS: c.LOGIN_RATE_WINDOW_S,
    adminEmails: c.ADMIN_EMAILS,
    ratePerMinute: c.RATE_LIMIT_PER_MINUTE,
    trustedProxies: c.TRUSTED_PROXIES,
  };
}

/** Who a request acts for, set by the auth middleware. */
export interface Auth {
  userId: string;
  role: 'user' | 'admin';
  /** how it proved it: a bearer access token, or a shop backend's API key */
  via: 'token' | 'api-key';
  /** the API key's id when via is 'api-key' */
  keyId?: string;
  /** an access token whose account its route reads (requireAuth's `accountInRoute`); `role` is the token's meanwhile */
  accountUnread?: true;
}
