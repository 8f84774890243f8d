// @lambda-shared: a module the Lambda entry points share, not an entry (scripts/build-lambda.ts).
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { setAwsClientInstrumentation } from '../../observability/aws-clients.ts';
import { flushLogger, type Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';

/**
 * What every invocation of a kidslearn Lambda function goes through: an
 * X-Ray subsegment for the handler (Powertools Tracer; cold start and
 * service annotated, errors recorded, never the response: it holds
 * children's data), AWS SDK clients created by the adapters captured as
 * subsegments of it, and afterwards the embedded-metric-format metrics and
 * the buffered JSON log lines written out, before Lambda freezes the
 * process. Tracing is on only on Lambda with active tracing (Powertools
 * turns itself off elsewhere, e.g. in tests, and with POWERTOOLS_TRACE_ENABLED=false).
 */
export const tracer = new Tracer({ serviceName: 'kidslearn' });

// Before any adapter creates a client: importing this module comes first in each entry.
setAwsClientInstrumentation((client) => tracer.captureAWSv3Client(client));

/** Wraps `handle` as described above; `flush` names what to write out after each invocation. */
export function traced<E, R>(name: string, handle: (event: E, context: Context) => Promise<R>, flush: { metrics?: Metrics; logger?: Logger }) {
  return async (event: E, context: Context): Promise<R> => {
    const segment = tracer.getSegment();
    const subsegment = segment?.addNewSubsegment(`## ${name}`);
    if (subsegment) tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      const result = await handle(event, context);
      const status = (result as { statusCode?: unknown } | null)?.statusCode;
      if (typeof status === 'number') tracer.putAnnotation('status', status);
      return result;
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      subsegment?.close();
      if (segment) tracer.setSegment(segment);
      flush.metrics?.flush();
      if (flush.logger) flushLogger(flush.logger);
    }
  };
}
