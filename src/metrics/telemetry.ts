import client from 'prom-client';

const RECENT_ERROR_WINDOW_MIN = 15;

/**
 * All counters of one server instance, on its own prom-client registry (not the global one, so
 * several apps in one test process do not share numbers). /metrics exports it; /api/status reads it.
 */
export class Telemetry {
  readonly registry = new client.Registry();
  readonly eventsPublished: client.Counter;
  readonly eventsDelivered: client.Counter<'path'>;
  readonly slowConsumersDropped: client.Counter;
  readonly pollRequests: client.Counter;
  readonly streamsOpened: client.Counter<'auth'>;
  readonly deliveryLatency: client.Histogram;
  readonly recentLag: client.Summary;
  readonly httpDuration: client.Histogram<'method' | 'route' | 'status'>;
  readonly errors: client.Counter<'code'>;
  readonly reconciled: client.Counter<'kind'>;
  readonly deliverySends: client.Counter<'channel' | 'outcome'>;
  readonly deliveryDelay: client.Histogram<'channel'>;
  readonly recentDeliveryDelay: client.Summary;
  private readonly errorBuckets = new Map<number, Map<string, number>>();

  constructor(streams: () => { total: number; byRole: Record<string, number>; users: number }) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.eventsPublished = new client.Counter({
      name: 'events_published_total',
      help: 'Events committed to the log by this instance',
      registers,
    });
    this.eventsDelivered = new client.Counter({
      name: 'events_delivered_total',
      help: 'Events handed to live stream sessions (path=live) or written by replays (path=replay)',
      labelNames: ['path'],
      registers,
    });
    this.slowConsumersDropped = new client.Counter({
      name: 'sse_slow_consumers_dropped_total',
      help: 'Streams disconnected because their unsent queue passed the cap',
      registers,
    });
    this.pollRequests = new client.Counter({ name: 'poll_requests_total', help: 'Polling requests served', registers });
    this.streamsOpened = new client.Counter({
      name: 'sse_streams_opened_total',
      help: 'Streams opened, by how they authenticated',
      labelNames: ['auth'],
      registers,
    });
    new client.Gauge({
      name: 'sse_open_streams',
      help: 'Open stream sessions by role',
      labelNames: ['role'],
      registers,
      collect() {
        const s = streams();
        this.reset();
        for (const [role, n] of Object.entries(s.byRole)) this.set({ role }, n);
      },
    });
    new client.Gauge({
      name: 'sse_connected_users',
      help: 'Distinct users with at least one open stream',
      registers,
      collect() {
        this.set(streams().users);
      },
    });
    this.deliveryLatency = new client.Histogram({
      name: 'event_delivery_latency_seconds',
      help: 'From the event being committed to its hand-off to the last live session of this instance',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.recentLag = new client.Summary({
      name: 'event_fanout_lag_seconds',
      help: 'Recent fan-out lag (commit to the last live session), sliding 5-minute window',
      percentiles: [0.5, 0.99],
      maxAgeSeconds: 300,
      ageBuckets: 5,
      registers,
    });
    this.httpDuration = new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request durations by route and status (streams: their whole lifetime)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers,
    });
    this.reconciled = new client.Counter({
      name: 'reconciliation_settled_total',
      help: 'Payments and payouts settled by asking Paystack, not by a webhook',
      labelNames: ['kind'],
      registers,
    });
    this.deliverySends = new client.Counter({
      name: 'notification_sends_total',
      help: 'Deliveries beyond the tab by channel and outcome (sent, failed, skipped, retried)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.deliveryDelay = new client.Histogram({
      name: 'notification_send_delay_seconds',
      help: 'From the notification being written to its send being accepted by the provider (escalation delays included)',
      labelNames: ['channel'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 150, 300, 700, 1800, 3600],
      registers,
    });
    this.recentDeliveryDelay = new client.Summary({
      name: 'notification_send_delay_recent_seconds',
      help: 'Recent time from notification to send, sliding 5-minute window',
      percentiles: [0.5, 0.99],
      maxAgeSeconds: 300,
      ageBuckets: 5,
      registers,
    });
    this.errors = new client.Counter({
      name: 'http_errors_total',
      help: 'Error responses by error code',
      labelNames: ['code'],
      registers,
    });
  }

  /**
   * One event handed to `sessions` live sessions. Counted and timed once per event, after the
   * last hand-off (so the lag is the fan-out's, to the last session), not once per session: at
   * thousands of streams the sliding-window summary alone cost more than the writes.
   */
  recordFanout(occurredAt: Date, sessions: number): void {
    if (sessions === 0) return;
    this.eventsDelivered.inc({ path: 'live' }, sessions);
    const lagSeconds = Math.max(0, Date.now() - occurredAt.getTime()) / 1000;
    this.deliveryLatency.observe(lagSeconds);
    this.recentLag.observe(lagSeconds);
  }

  /** One delivery beyond the tab ended (or was put back for a retry); a send is timed from its notification. */
  recordSend(channel: string, outcome: 'sent' | 'failed' | 'skipped' | 'retried', notifiedAt: Date, now: Date): void {
    this.deliverySends.inc({ channel, outcome });
    if (outcome !== 'sent') return;
    const seconds = Math.max(0, now.getTime() - notifiedAt.getTime()) / 1000;
    this.deliveryDelay.observe({ channel }, seconds);
    this.recentDeliveryDelay.observe(seconds);
  }

  /** Sends by channel and outcome, and the recent time from notification to send. */
  async deliveryFigures(): Promise<{
    byChannel: Record<string, Record<string, number>>;
    sendDelay: { p50Ms: number | null; p99Ms: number | null; samples: number };
  }> {
    const byChannel: Record<string, Record<string, number>> = {};
    for (const v of (await this.deliverySends.get()).values) {
      const channel = String(v.labels.channel);
      (byChannel[channel] ??= {})[String(v.labels.outcome)] = v.value;
    }
    return { byChannel, sendDelay: await percentilesOf(this.recentDeliveryDelay, 'notification_send_delay_recent_seconds_count') };
  }

  recordError(code: string, now = Date.now()): void {
    this.errors.inc({ code });
    const minute = Math.floor(now / 60_000);
    const bucket = this.errorBuckets.get(minute) ?? new Map<string, number>();
    bucket.set(code, (bucket.get(code) ?? 0) + 1);
    this.errorBuckets.set(minute, bucket);
    for (const m of this.errorBuckets.keys()) if (m <= minute - RECENT_ERROR_WINDOW_MIN) this.errorBuckets.delete(m);
  }

  recentErrors(now = Date.now()): { windowMinutes: number; byCode: Record<string, number> } {
    const oldest = Math.floor(now / 60_000) - RECENT_ERROR_WINDOW_MIN;
    const byCode: Record<string, number> = {};
    for (const [minute, bucket] of this.errorBuckets) {
      if (minute <= oldest) continue;
      for (const [code, n] of bucket) byCode[code] = (byCode[code] ?? 0) + n;
    }
    return { windowMinutes: RECENT_ERROR_WINDOW_MIN, byCode };
  }

  async counterValue(c: client.Counter<string>, labels?: Record<string, string>): Promise<number> {
    const { values } = await c.get();
    return values.filter((v) => !labels || Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
  }

  async lagPercentiles(): Promise<{ p50Ms: number | null; p99Ms: number | null; samples: number }> {
    return percentilesOf(this.recentLag, 'event_fanout_lag_seconds_count');
  }
}

/** p50 and p99 of a sliding-window summary, in milliseconds. */
async function percentilesOf(summary: client.Summary, countName: string): Promise<{ p50Ms: number | null; p99Ms: number | null; samples: number }> {
  const { values } = await summary.get();
  const q = (quantile: number) => values.find((v) => v.labels.quantile === quantile)?.value;
  const count = values.find((v) => v.metricName === countName)?.value ?? 0;
  const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : Math.round(v * 100_000) / 100);
  if (count === 0) return { p50Ms: null, p99Ms: null, samples: 0 };
  return { p50Ms: ms(q(0.5)), p99Ms: ms(q(0.99)), samples: count };
}
