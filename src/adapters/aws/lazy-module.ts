/**
 * A module loaded on first use: `load()` runs once and every call gets the
 * same promise; a failed load is not remembered, so the next call tries
 * again. The AWS SDK client packages are loaded this way by the adapters
 * that need them (S3, Bedrock): importing one costs tens of milliseconds of
 * CPU, which a Lambda function would otherwise pay in every cold start,
 * before its first request, whether or not that request needs the client.
 */
export function lazyModule<M>(load: () => Promise<M>): () => Promise<M> {
  let loading: Promise<M> | undefined;
  return () => {
    if (!loading) {
      loading = load();
      loading.catch(() => (loading = undefined));
    }
    return loading;
  };
}
