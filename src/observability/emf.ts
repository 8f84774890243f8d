import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { HTTP_DURATION_METRIC, HTTP_REQUESTS_METRIC, type HttpLabels, type HttpMetricsSink } from './metrics.ts';

/**
 * The HTTP request metrics in CloudWatch embedded metric format (EMF), for
 * Lambda, where nothing scrapes `/metrics` (`METRICS_EMF=true`). The same
 * series as the Prometheus registry (observability/metrics.ts feeds this
 * sink from the same observation): per (method, route pattern, status), the
 * request count and each request's latency in seconds, under namespace
 * `Kidslearn` with the dimensions service, route, method and status.
 * Powertools for AWS Lambda writes the JSON lines to stdout, where
 * CloudWatch Logs turns them into metrics; {@link HttpMetricsSink.flush} is
 * called after each invocation, one line per series seen in it.
 */
export function createEmfSink(options: { namespace?: string; serviceName?: string } = {}): HttpMetricsSink {
  const emf = new PowertoolsMetrics({ namespace: options.namespace ?? 'Kidslearn', serviceName: options.serviceName ?? 'kidslearn' });
  // Keyed by the series' labels object (one per series), so a request costs a map lookup and a push.
  const pending = new Map<HttpLabels, number[]>();
  return {
    observe(labels, seconds) {
      const values = pending.get(labels);
      if (values) values.push(seconds);
      else pending.set(labels, [seconds]);
    },
    flush() {
      for (const [labels, values] of pending) {
        emf.addDimensions({ route: labels.route, method: labels.method, status: labels.status });
        emf.addMetric(HTTP_REQUESTS_METRIC, MetricUnit.Count, values.length);
        for (const seconds of values) emf.addMetric(HTTP_DURATION_METRIC, MetricUnit.Seconds, seconds);
        // Writes the line and clears the metrics and the dimensions for the next series.
        emf.publishStoredMetrics();
      }
      pending.clear();
    },
  };
}
