import type { Principal } from '../domain/principal.ts';

/** Per-request values set by middleware. */
export interface AppEnv {
  Variables: {
    /** This request's id (from `X-Request-Id` or generated); echoed on the response. */
    requestId: string;
    /** Set by handlers that already put `X-Request-Id` into their response. */
    requestIdSent?: boolean;
    /** Set by handlers whose response already carries the standard headers (see `standardHeaders`). */
    headersSent?: boolean;
    /** The app (tenant) this request is bound to, once known. */
    appId?: string;
    /** The verified caller on authenticated routes. */
    principal?: Principal;
  };
}
