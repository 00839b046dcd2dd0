/** The api's account and token settings, read from the environment (part of apiConfigSchema). */
import { env } from '@proteus/common';
import { z } from 'zod';

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
}

export function authSettingsFrom(c: {
  JWT_SECRET: string;
  JWT_TTL_S: number;
  REFRESH_TTL_S: number;
  LOGIN_RATE_LIMIT: number;
  LOGIN_RATE_WINDOW_S: number;
  ADMIN_EMAILS: string[];
}): AuthSettings {
  return {
    jwtSecret: c.JWT_SECRET,
    accessTtlS: c.JWT_TTL_S,
    refreshTtlS: c.REFRESH_TTL_S,
    loginLimit: c.LOGIN_RATE_LIMIT,
    loginWindowS: c.LOGIN_RATE_WINDOW_S,
    adminEmails: c.ADMIN_EMAILS,
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
}
