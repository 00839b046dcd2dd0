/** Accounts as the API shows them, and the zod pieces their routes share. */
import type { UsersTable } from '@proteus/common/db';
import type { Selectable } from 'kysely';
import { z } from 'zod';
import { PASSWORD_MAX, PASSWORD_MIN } from './passwords.ts';
import { sha256Hex } from './secrets.ts';

// lower-cased before the check, so Ann@X.io and ann@x.io are one account
export const emailField = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ error: 'expected an e-mail address' }));
export const newPasswordField = z
  .string()
  .min(PASSWORD_MIN, { error: `at least ${PASSWORD_MIN} characters` })
  .max(PASSWORD_MAX, { error: `at most ${PASSWORD_MAX} characters` });
/** a password being checked, not set: no minimum (a short one simply fails), the same maximum */
export const givenPasswordField = z
  .string()
  .min(1)
  .max(PASSWORD_MAX, { error: `at most ${PASSWORD_MAX} characters` });
export const displayNameField = z.string().trim().min(1).max(100);

export const USER_COLUMNS = ['id', 'email', 'role', 'display_name', 'created_at', 'updated_at'] as const;
type UserRow = Pick<Selectable<UsersTable>, (typeof USER_COLUMNS)[number]>;

export function publicUser(row: UserRow) {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    displayName: row.display_name,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** What rate limits and logs use for an e-mail address: not the address itself. */
export const accountRef = (email: string) => sha256Hex(`account:${email}`).slice(0, 32);
