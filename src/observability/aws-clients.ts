/**
 * A hook every adapter applies to the AWS SDK clients it creates. It does
 * nothing by default; the Lambda entry points set it to Powertools Tracer's
 * `captureAWSv3Client`, so each SDK call (S3, Bedrock, SQS, SES...) becomes
 * an X-Ray subsegment of the invocation. Clients passed in by callers
 * (tests) are left as they are.
 */
type Instrument = <T extends object>(client: T) => T;

let instrument: Instrument = (client) => client;

/** Returns `client`, instrumented when an entry point asked for it. */
export function instrumentAwsClient<T extends object>(client: T): T {
  return instrument(client);
}

/** Sets how new AWS SDK clients are instrumented (call before the container is created). */
export function setAwsClientInstrumentation(fn: Instrument): void {
  instrument = fn;
}
