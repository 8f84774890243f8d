import type { RequestIdVariables } from 'hono/request-id';
import type { Principal } from '../domain/principal.ts';

/** Per-request values set by middleware. */
export interface AppEnv {
  Variables: RequestIdVariables & {
    /** The app (tenant) this request is bound to, once known. */
    appId?: string;
    /** The verified caller on authenticated routes. */
    principal?: Principal;
  };
}
