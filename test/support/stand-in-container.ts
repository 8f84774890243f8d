import type { Container } from '../../src/wiring/container.ts';

/**
 * A container whose every member is a harmless stand-in: enough to build
 * the HTTP app and its routes and route requests to them (whatever a handler
 * calls answers another stand-in), without a database.
 */
export function standInContainer(): Container {
  const anything: unknown = new Proxy(function () {}, { get: (_t, p) => (p === 'then' ? undefined : anything), apply: () => anything });
  return new Proxy({}, { get: (_t, p) => (p === 'config' ? { corsOrigins: [], trustProxy: false, version: 'test' } : anything) }) as Container;
}
