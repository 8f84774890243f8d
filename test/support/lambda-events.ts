/**
 * An API Gateway HTTP API (payload v2) event, as Lambda hands it to the
 * "api" function: for tests and the bench that invoke the handler (from
 * source or bundled) without API Gateway.
 */
export function httpApiEvent(method: string, rawPath: string, options: { requestId?: string; headers?: Record<string, string>; rawQueryString?: string; userAgent?: string } = {}) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: options.rawQueryString ?? '',
    headers: { host: 'api.example.org', ...options.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.org',
      domainPrefix: 'api',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: options.userAgent ?? 'test' },
      requestId: options.requestId ?? 'gw-request-1',
      routeKey: '$default',
      stage: '$default',
      time: '04/Dec/2026:10:00:00 +0000',
      timeEpoch: 0,
    },
    isBase64Encoded: false,
  };
}
