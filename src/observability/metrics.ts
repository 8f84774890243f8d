import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The counter and the latency histogram of one (method, route, status) series. */
export interface HttpSeries {
  /** Counts one request of this series that took `seconds`. */
  observe(seconds: number): void;
}

/** The name of the HTTP request counter (Prometheus, and the embedded metric format on Lambda). */
export const HTTP_REQUESTS_METRIC = 'kidslearn_http_requests_total';
/** The name of the HTTP latency histogram, in seconds (Prometheus; on Lambda one EMF value per request). */
export const HTTP_DURATION_METRIC = 'kidslearn_http_request_duration_seconds';

/** The labels of one HTTP series: method, route pattern, status. */
export type HttpLabels = { readonly method: string; readonly route: string; readonly status: string };

/**
 * Somewhere else the HTTP requests are reported to, besides the Prometheus
 * registry: CloudWatch embedded metric format on Lambda (observability/emf.ts),
 * where nothing scrapes `/metrics`. `labels` is the same object for every
 * request of a series.
 */
export interface HttpMetricsSink {
  /** One request of the series `labels` that took `seconds`. */
  observe(labels: HttpLabels, seconds: number): void;
  /** Writes out what was observed since the last flush (once per Lambda invocation). */
  flush(): void;
}

/** Prometheus metrics of one process. A registry per container keeps tests independent. */
export interface Metrics {
  registry: Registry;
  /** Writes out the pushed metrics (the {@link HttpMetricsSink}, when there is one); a no-op otherwise. */
  flush(): void;
  /**
   * The series of `kidslearn_http_requests_total` and
   * `kidslearn_http_request_duration_seconds` for one (method, route pattern,
   * status), memoised: keep the route label bounded (patterns, never paths).
   */
  httpSeries(method: string, route: string, status: number): HttpSeries;
  /** The series of `kidslearn_cache_requests_total` for one cache and result, memoised. */
  cacheLookups(cache: string, result: 'hit' | 'miss'): { inc(): void };
  dbPool: Gauge<'state'>;
  /**
   * `kidslearn_engine_plan_seconds{phase}`: `compute` is the engine's own
   * work per plan (load, analyse, plan, write); `end_to_end` runs from the
   * request (`POST /api/adaptive/plans`) to the plan being ready.
   */
  planSeconds: Histogram<'phase'>;
  /**
   * `kidslearn_engine_plans_total{event}`: `requested` (a new plan queued),
   * `reused` (an identical ready plan answered), `rate_limited`, `ready`,
   * `retried` (an attempt failed, another follows), `failed` (attempts exhausted).
   */
  plans: Counter<'event'>;
  /**
   * `kidslearn_lake_events_total{outcome}`: analytics events sent to
   * `POST /api/events`, by outcome: `accepted` (stored), `duplicate` (a
   * retry, stored once), `conflict` (same id, another payload: dead letter),
   * `dropped` (not stored: the child's productAnalytics setting is off).
   */
  lakeEvents: Counter<'outcome'>;
  /** Item generation (engine/item-generator.ts): model calls, their latency and tokens, fallbacks to the offline generator, items kept and rejected. */
  llm: LlmMetrics;
  /** The lake writer (analytics/lake-writer.ts). */
  lakeWriter: LakeWriterMetrics;
}

/** The lake writer's metrics. */
export interface LakeWriterMetrics {
  /** `kidslearn_lake_backlog`: events acknowledged and not yet in the lake (pending or in a claimed batch). */
  backlog: Gauge;
  /** `kidslearn_lake_flush_seconds`: time to write one batch (all its files, then the mark). */
  flushSeconds: Histogram;
  /** `kidslearn_lake_events_written_total`. */
  eventsWritten: Counter;
  /** `kidslearn_lake_batches_failed_total`: failed attempts (each is retried with backoff until LAKE_MAX_ATTEMPTS). */
  batchesFailed: Counter;
  /** `kidslearn_lake_dead_letters_total{reason}`. */
  deadLetters: Counter<'reason'>;
  /** `kidslearn_lake_last_flush_timestamp_seconds`: when a batch was last written (Unix seconds). */
  lastFlush: Gauge;
}

/** The metrics of item generation, labelled by provider, outcome and reason (all bounded sets). */
export interface LlmMetrics {
  /** `kidslearn_llm_calls_total{provider,outcome}`: outcome `ok`, `error` or `over_budget`. */
  calls: Counter<'provider' | 'outcome'>;
  /** `kidslearn_llm_call_duration_seconds{provider}`. */
  latency: Histogram<'provider'>;
  /** `kidslearn_llm_tokens_total{provider,kind}`: kind `input` or `output`. */
  tokens: Counter<'provider' | 'kind'>;
  /** `kidslearn_llm_fallbacks_total{reason}`: the offline generator filled in (`llm_unavailable`, `over_budget`, `too_few_passed`). */
  fallbacks: Counter<'reason'>;
  /** `kidslearn_generated_items_rejected_total{source,reason}`: candidates dropped by the checks. */
  rejections: Counter<'source' | 'reason'>;
  /** `kidslearn_generated_items_total{source}`: items that passed and were stored. */
  accepted: Counter<'source'>;
}

/** Upper bounds (seconds) of the plan latency histogram: the targets are 0.3 s compute and 1 s end to end. */
const PLAN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30, 60] as const;

/** Upper bounds (seconds) of the HTTP latency histogram. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/** One series' counts: per bucket (not cumulative), total and sum. */
class Series implements HttpSeries {
  readonly labels: HttpLabels;
  readonly buckets = new Float64Array(HTTP_BUCKETS.length);
  readonly #sink: HttpMetricsSink | undefined;
  count = 0;
  sum = 0;

  constructor(labels: HttpLabels, sink: HttpMetricsSink | undefined) {
    this.labels = labels;
    this.#sink = sink;
  }

  observe(seconds: number): void {
    this.#sink?.observe(this.labels, seconds);
    this.count++;
    this.sum += seconds;
    for (let i = 0; i < HTTP_BUCKETS.length; i++) {
      if (seconds <= HTTP_BUCKETS[i]!) {
        this.buckets[i]!++;
        return;
      }
    }
  }
}

/**
 * The HTTP request metrics, counted in plain fields per series. prom-client's
 * `Histogram` and `Counter` validate and hash the label set on every
 * observation, labelled child or not (~1 µs per request, measured); here a
 * request costs a few additions. The histogram is exposed to the registry as
 * a metric of its own, producing exactly prom-client's histogram output; the
 * counter is a prom-client `Counter` filled from the same series at scrape
 * time (a request's count is its histogram count).
 */
class HttpMetrics {
  readonly #series = new Map<string, Series>();
  readonly #sink: HttpMetricsSink | undefined;

  constructor(sink: HttpMetricsSink | undefined) {
    this.#sink = sink;
  }

  series(method: string, route: string, status: number): Series {
    const key = `${method} ${status} ${route}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new Series({ method, route, status: String(status) }, this.#sink);
      this.#series.set(key, series);
    }
    return series;
  }

  all(): IterableIterator<Series> {
    return this.#series.values();
  }

  reset(): void {
    this.#series.clear();
  }

  /** The histogram, in the shape prom-client's registry reads (`get`, `reset`, name, help, type). */
  histogram(name: string, help: string) {
    return {
      name,
      help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      reset: () => this.reset(),
      get: async () => {
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const s of this.all()) {
          let cumulative = 0;
          for (let i = 0; i < HTTP_BUCKETS.length; i++) {
            cumulative += s.buckets[i]!;
            values.push({ labels: { le: HTTP_BUCKETS[i]!, ...s.labels }, value: cumulative, metricName: `${name}_bucket` });
          }
          values.push(
            { labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${name}_bucket` },
            { labels: { ...s.labels }, value: s.sum, metricName: `${name}_sum` },
            { labels: { ...s.labels }, value: s.count, metricName: `${name}_count` },
          );
        }
        return { name, help, type: 'histogram' as const, values, aggregator: 'sum' as const };
      },
    };
  }
}

/** Creates the registry; `poolStats` is read at scrape time; `httpSink` also receives every HTTP request. */
export function createMetrics(
  poolStats: () => { total: number; idle: number; waiting: number },
  options: { defaultMetrics?: boolean; httpSink?: HttpMetricsSink } = {},
): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'kidslearn_' });
  const http = new HttpMetrics(options.httpSink);
  new Counter({
    name: HTTP_REQUESTS_METRIC,
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of http.all()) this.inc(s.labels, s.count);
    },
  });
  // The registry reads only the members `histogram()` provides.
  registry.registerMetric(
    http.histogram(HTTP_DURATION_METRIC, 'HTTP request latency by method, route pattern and status') as unknown as Histogram,
  );
  // Plans are few per second at most: prom-client's own types are cheap enough here.
  const planSeconds = new Histogram({
    name: 'kidslearn_engine_plan_seconds',
    help: 'Lesson plan latency: phase=compute (the engine building one plan), phase=end_to_end (request to ready)',
    labelNames: ['phase'],
    buckets: [...PLAN_BUCKETS],
    registers: [registry],
  });
  const plans = new Counter({
    name: 'kidslearn_engine_plans_total',
    help: 'Lesson plans by event: requested, reused, rate_limited, ready, retried, failed',
    labelNames: ['event'],
    registers: [registry],
  });
  // Counted in plain fields, copied into the prom-client counter at scrape
  // time: `inc(labels)` validates and hashes the labels on every call.
  const lookups = new Map<string, { labels: { cache: string; result: string }; count: number; inc(): void }>();
  new Counter({
    name: 'kidslearn_cache_requests_total',
    help: 'Cache lookups by cache and result (hit or miss)',
    labelNames: ['cache', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of lookups.values()) this.inc(s.labels, s.count);
    },
  });
  const llm: LlmMetrics = {
    calls: new Counter({ name: 'kidslearn_llm_calls_total', help: 'Language model calls by provider and outcome', labelNames: ['provider', 'outcome'], registers: [registry] }),
    latency: new Histogram({ name: 'kidslearn_llm_call_duration_seconds', help: 'Language model call latency by provider', labelNames: ['provider'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60], registers: [registry] }),
    tokens: new Counter({ name: 'kidslearn_llm_tokens_total', help: 'Language model tokens by provider and kind (input, output)', labelNames: ['provider', 'kind'], registers: [registry] }),
    fallbacks: new Counter({ name: 'kidslearn_llm_fallbacks_total', help: 'Generations the offline generator filled, by reason', labelNames: ['reason'], registers: [registry] }),
    rejections: new Counter({ name: 'kidslearn_generated_items_rejected_total', help: 'Generated items dropped by the checks, by source and reason', labelNames: ['source', 'reason'], registers: [registry] }),
    accepted: new Counter({ name: 'kidslearn_generated_items_total', help: 'Generated items that passed the checks and were stored, by source', labelNames: ['source'], registers: [registry] }),
  };
  const lakeEvents = new Counter({
    name: 'kidslearn_lake_events_total',
    help: 'Analytics events received by POST /api/events, by outcome: accepted, duplicate, conflict, dropped',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const lakeWriter: LakeWriterMetrics = {
    backlog: new Gauge({ name: 'kidslearn_lake_backlog', help: 'Events acknowledged and not yet written to the lake', registers: [registry] }),
    flushSeconds: new Histogram({ name: 'kidslearn_lake_flush_seconds', help: 'Time to write one lake batch', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry] }),
    eventsWritten: new Counter({ name: 'kidslearn_lake_events_written_total', help: 'Events written to the lake', registers: [registry] }),
    batchesFailed: new Counter({ name: 'kidslearn_lake_batches_failed_total', help: 'Failed lake batch attempts', registers: [registry] }),
    deadLetters: new Counter({ name: 'kidslearn_lake_dead_letters_total', help: 'Events moved to the lake dead letters, by reason', labelNames: ['reason'], registers: [registry] }),
    lastFlush: new Gauge({ name: 'kidslearn_lake_last_flush_timestamp_seconds', help: 'When the lake writer last wrote a batch (Unix seconds)', registers: [registry] }),
  };
  return {
    registry,
    flush: () => options.httpSink?.flush(),
    llm,
    lakeEvents,
    lakeWriter,
    planSeconds,
    plans,
    httpSeries: (method, route, status) => http.series(method, route, status),
    cacheLookups(cache, result) {
      const key = `${cache} ${result}`;
      let series = lookups.get(key);
      if (series === undefined) {
        series = {
          labels: { cache, result },
          count: 0,
          inc() {
            this.count++;
          },
        };
        lookups.set(key, series);
      }
      return series;
    },
    dbPool: new Gauge({
      name: 'kidslearn_db_pool_connections',
      help: 'Database connections by state (total, idle, waiting clients)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const s = poolStats();
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'waiting' }, s.waiting);
      },
    }),
  };
}
