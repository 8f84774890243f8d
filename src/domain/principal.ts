import { z } from 'zod';

/** The roles a token can carry. */
export const Role = z.enum(['guardian', 'child', 'teacher', 'admin']);
export type Role = z.infer<typeof Role>;

/** Who is calling: the verified claims of a token, bound to exactly one app. */
export interface Principal {
  /** Subject: the account id, or the child profile id for child tokens. */
  sub: string;
  /** The app (tenant) this token is valid for. */
  app: string;
  role: Role;
  /** Token id (every access token the server issues has one). */
  jti?: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}
