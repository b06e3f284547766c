import client from 'prom-client'
import type { TrackedEvent } from '../events/event.js'

/**
 * The service's Prometheus metrics, in a registry of its own (not prom-client's global one), so
 * that several apps in one process — the tests — do not collide.
 */
export class Metrics {
  readonly registry = new client.Registry()

  readonly eventsAccepted = new client.Counter({
    name: 'searchtrack_events_accepted_total',
    help: 'Events acknowledged (committed, or spooled while the database is unreachable), by protocol and type; retries recognised by their idempotency key count as duplicates instead',
    labelNames: ['protocol', 'type'] as const,
    registers: [this.registry],
  })

  readonly eventsRejected = new client.Counter({
    name: 'searchtrack_events_rejected_total',
    help: 'Requests refused, by protocol and reason (error code)',
    labelNames: ['protocol', 'reason'] as const,
    registers: [this.registry],
  })

  readonly batchSize = new client.Histogram({
    name: 'searchtrack_batch_events',
    help: 'Events per committed batch',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers: [this.registry],
  })

  readonly commitSeconds = new client.Histogram({
    name: 'searchtrack_commit_seconds',
    help: 'Time to commit one batch',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  readonly duplicates = new client.Counter({
    name: 'searchtrack_events_duplicate_total',
    help: 'Events not stored again because they already were: retries with a taken idempotency key, replays of stored events',
    registers: [this.registry],
  })

  readonly refusedByDatabase = new client.Counter({
    name: 'searchtrack_requests_refused_by_database_total',
    help: 'Requests whose events the database refused for their data (found by splitting their batch; answered 400)',
    registers: [this.registry],
  })

  readonly quarantined = new client.Counter({
    name: 'searchtrack_events_quarantined_total',
    help: 'Acknowledged events the database refused at replay, set aside in the quarantine (table, or file when the table refused them too)',
    labelNames: ['store'] as const,
    registers: [this.registry],
  })

  readonly batchFailures = new client.Counter({
    name: 'searchtrack_batch_failures_total',
    help: 'Batches whose transaction failed',
    registers: [this.registry],
  })

  readonly queueDepth = new client.Gauge({
    name: 'searchtrack_writer_queue_events',
    help: 'Events waiting for a batch',
    registers: [this.registry],
  })

  /** Receipt times are stamped on the database's clock: this much ahead of the machine's. */
  readonly clockOffset = new client.Gauge({
    name: 'searchtrack_database_clock_offset_seconds',
    help: "How far the database's clock is ahead of this machine's; receipt times are stamped on the database's clock",
    registers: [this.registry],
  })

  /** Bytes of acknowledged events in the outage spool, not yet replayed (0 when all is well). */
  readonly spoolBytes = new client.Gauge({
    name: 'searchtrack_spool_bytes',
    help: 'Bytes of acknowledged events waiting in the outage spool for the database',
    registers: [this.registry],
  })

  /** 1 while the database is unreachable and events go to the spool. */
  readonly spooling = new client.Gauge({
    name: 'searchtrack_spooling',
    help: '1 while events are being spooled because the database is unreachable',
    registers: [this.registry],
  })

  /** Privacy (src/privacy/retention.ts): updated by each retention pass. */
  readonly oldestEvent = new client.Gauge({
    name: 'searchtrack_oldest_event_timestamp_seconds',
    help: 'Receipt time of the oldest raw event of each org, as of the last retention pass',
    labelNames: ['org'] as const,
    registers: [this.registry],
  })

  readonly retentionLastRun = new client.Gauge({
    name: 'searchtrack_retention_last_run_timestamp_seconds',
    help: 'When the last retention pass ran (by the service clock)',
    registers: [this.registry],
  })

  readonly retentionLastRunSeconds = new client.Gauge({
    name: 'searchtrack_retention_last_run_duration_seconds',
    help: 'How long the last retention pass took',
    registers: [this.registry],
  })

  readonly retentionDeleted = new client.Counter({
    name: 'searchtrack_retention_deleted_rows_total',
    help: 'Rows deleted by retention passes (partitions dropped whole are not counted by row)',
    registers: [this.registry],
  })

  readonly retentionDropped = new client.Counter({
    name: 'searchtrack_retention_dropped_partitions_total',
    help: 'Monthly event partitions dropped whole by retention passes',
    registers: [this.registry],
  })

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'searchtrack_' })
  }

  /**
   * Count acknowledged events: one increment per protocol and type in `events` rather than one
   * per event (a labelled increment hashes its labels; a 50-event request paid that 50 times).
   */
  countAccepted(events: readonly TrackedEvent[]): void {
    let run = 0
    for (let i = 0; i < events.length; i++) {
      run++
      const event = events[i]!
      const next = events[i + 1]
      if (next === undefined || next.type !== event.type || next.protocol !== event.protocol) {
        this.eventsAccepted.inc({ protocol: event.protocol, type: event.type }, run)
        run = 0
      }
    }
  }

  observeBatch(events: number, seconds: number): void {
    this.batchSize.observe(events)
    this.commitSeconds.observe(seconds)
  }
}
