/** Bedrock service errors that are worth another attempt. */
const RETRYABLE = ['ThrottlingException', 'ServiceUnavailableException', 'InternalServerException', 'ModelNotReadyException', 'ServiceQuotaExceededException'] as const;

/** How one failed Bedrock SDK call is to be treated. */
export interface BedrockFailure {
  reason: 'rate_limited' | 'server_error' | 'unreachable' | 'rejected';
  message: string;
  retryable: boolean;
  status?: number;
}

/**
 * Classifies an AWS SDK error of a Bedrock runtime call (embeddings and the
 * Converse API alike): throttling and server-side errors are retried;
 * validation, access and credentials errors are not; no HTTP status and no
 * service exception means the request never got an answer (refused, reset,
 * DNS). `alsoRetryable` names more error names an adapter retries.
 */
export function classifyBedrockError(error: unknown, alsoRetryable: readonly string[] = []): BedrockFailure {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown } | null;
  const name = e?.name ?? 'Error';
  const status = e?.$metadata?.httpStatusCode;
  const throttled = name === 'ThrottlingException' || status === 429;
  const unreachable = status === undefined && !name.endsWith('Exception') && name !== 'CredentialsProviderError';
  const serverSide = (RETRYABLE as readonly string[]).includes(name) || alsoRetryable.includes(name) || (status !== undefined && status >= 500) || Boolean(e?.$retryable);
  return {
    reason: throttled ? 'rate_limited' : serverSide ? 'server_error' : unreachable ? 'unreachable' : 'rejected',
    message: `Bedrock answered ${name}`,
    retryable: throttled || serverSide || unreachable,
    ...(status === undefined ? {} : { status }),
  };
}
