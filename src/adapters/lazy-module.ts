/**
 * A module loaded on first use: `load()` runs once and every call gets the
 * same promise; a failed load is not remembered, so the next call tries
 * again. Packages an adapter needs only when it is used (the AWS SDK
 * clients for S3 and Bedrock, nodemailer) are loaded this way: importing one costs tens of milliseconds of
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
