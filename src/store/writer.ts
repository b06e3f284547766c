import type pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { TrackedEvent } from '../events/event.js'
import { EVENT_COLUMNS, EVENT_COLUMN_TYPES, toColumns } from './event-rows.js'
import type { Metrics } from '../ops/metrics.js'

export interface WriterOptions {
  /** How long the first request of a batch waits for others to join it. */
  windowMs: number
  /** A batch is flushed as soon as it holds this many events (a single request is never split). */
  maxBatchEvents: number
  /** Batches committing at once (each holds one pool connection). */
  concurrency: number
  /** Inactivity after which a visitor's next event starts a new visit. */
  visitTimeoutMinutes: number
  log: Logger
  metrics?: Metrics
}

export class WriterClosedError extends Error {
  override name = 'WriterClosedError'
  constructor() {
    super('the writer is shutting down')
  }
}

interface Pending {
  events: TrackedEvent[]
  resolve: (events: TrackedEvent[]) => void
  reject: (err: Error) => void
}

const INSERT_COLUMNS = EVENT_COLUMNS.join(', ')
const SELECT_COLUMNS = EVENT_COLUMNS.map((c) => (c === 'visit_id' ? 'coalesce(i.visit_id, v.visit_id)' : `i.${c}`)).join(', ')
const UNNEST_ARGS = EVENT_COLUMN_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')
const TIMEOUT_PARAM = `$${EVENT_COLUMNS.length + 1}::interval`

/*
 * One statement per batch, so one transaction and one round trip:
 *  1. the batch's events, one typed array per column, zipped back into rows by unnest;
 *  2. one upsert of the visitors seen in it (events without a preset visit): a visitor whose last
 *     event is older than the timeout gets a new visit id; otherwise the current one is kept. The
 *     database decides, so every instance agrees. Rows are sorted so concurrent batches lock
 *     visitors in the same order and cannot deadlock;
 *  3. the events, with their visit ids, ON CONFLICT DO NOTHING: the event id is the idempotency key.
 */
export const BATCH_SQL = `
WITH input AS (
  SELECT * FROM unnest(${UNNEST_ARGS}) AS i(${INSERT_COLUMNS})
),
seen AS (
  SELECT org_id, visitor_id, min(received_at) AS first_at, max(received_at) AS last_at
  FROM input
  WHERE visitor_id IS NOT NULL AND visit_id IS NULL
  GROUP BY org_id, visitor_id
),
v AS (
  INSERT INTO visitors AS cur (org_id, visitor_id, visit_id, visit_started_at, first_seen, last_seen)
  SELECT org_id, visitor_id, gen_random_uuid(), first_at, first_at, last_at
  FROM seen ORDER BY org_id, visitor_id
  ON CONFLICT (org_id, visitor_id) DO UPDATE SET
    visit_id = CASE WHEN EXCLUDED.first_seen - cur.last_seen > ${TIMEOUT_PARAM}
                    THEN EXCLUDED.visit_id ELSE cur.visit_id END,
    visit_started_at = CASE WHEN EXCLUDED.first_seen - cur.last_seen > ${TIMEOUT_PARAM}
                    THEN EXCLUDED.first_seen ELSE cur.visit_started_at END,
    last_seen = GREATEST(cur.last_seen, EXCLUDED.last_seen)
  RETURNING org_id, visitor_id, visit_id
),
ins AS (
  INSERT INTO events (${INSERT_COLUMNS})
  SELECT ${SELECT_COLUMNS}
  FROM input i LEFT JOIN v ON v.org_id = i.org_id AND v.visitor_id = i.visitor_id
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT v.org_id, v.visitor_id, v.visit_id::text, (SELECT count(*) FROM ins)::int AS inserted FROM v
UNION ALL
SELECT NULL, NULL, NULL, (SELECT count(*) FROM ins)::int WHERE NOT EXISTS (SELECT 1 FROM v)
`

interface BatchRow {
  org_id: string | null
  visitor_id: string | null
  visit_id: string | null
  inserted: number
}

/**
 * Group-commit writer. `write()` resolves only once its events are committed: many concurrent
 * requests share one transaction, so the service is not capped at the disk's fsync rate.
 * A failed batch rejects every request in it.
 */
export class EventWriter {
  private queue: Pending[] = []
  private queuedEvents = 0
  private inflight = 0
  private timer: NodeJS.Timeout | undefined
  private closing = false
  private idleWaiters: Array<() => void> = []
  private lastErrorAt: number | undefined
  private readonly timeout: string

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: WriterOptions,
  ) {
    this.timeout = `${options.visitTimeoutMinutes * 60} seconds`
  }

  /** Events waiting for a batch (the back-pressure signal). */
  get queueDepth(): number {
    return this.queuedEvents
  }

  /** False after a failed batch, until a batch commits again or 10 s pass without another failure. */
  get healthy(): boolean {
    return this.lastErrorAt === undefined || Date.now() - this.lastErrorAt > 10_000
  }

  write(events: TrackedEvent[]): Promise<TrackedEvent[]> {
    if (this.closing) return Promise.reject(new WriterClosedError())
    if (events.length === 0) return Promise.resolve(events)
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject })
      this.queuedEvents += events.length
      this.options.metrics?.queueDepth.set(this.queuedEvents)
      if (this.queuedEvents >= this.options.maxBatchEvents) this.drain()
      else this.timer ??= setTimeout(() => this.drain(), this.options.windowMs)
    })
  }

  /** Stop accepting writes and wait for everything queued or in flight to settle. */
  async close(): Promise<void> {
    this.closing = true
    this.drain()
    if (this.inflight === 0 && this.queue.length === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  private drain(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    while (this.inflight < this.options.concurrency && this.queue.length > 0) {
      const batch: Pending[] = []
      let size = 0
      while (this.queue.length > 0) {
        const next = this.queue[0]!
        if (batch.length > 0 && size + next.events.length > this.options.maxBatchEvents) break
        batch.push(this.queue.shift()!)
        size += next.events.length
      }
      this.queuedEvents -= size
      this.options.metrics?.queueDepth.set(this.queuedEvents)
      this.inflight++
      void this.flush(batch, size).finally(() => {
        this.inflight--
        // Whatever queued while this batch committed has already waited: send it now.
        if (this.queue.length > 0) this.drain()
        else if (this.inflight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve())
      })
    }
  }

  private async flush(batch: Pending[], size: number): Promise<void> {
    const events = batch.flatMap((p) => p.events)
    const started = process.hrtime.bigint()
    try {
      const rows = await this.commit(events)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      this.lastErrorAt = undefined
      const inserted = rows[0]?.inserted ?? 0
      this.options.metrics?.observeBatch(size, seconds, size - inserted)
      const visits = new Map<string, string>()
      for (const row of rows) if (row.org_id !== null) visits.set(`${row.org_id}\u0000${row.visitor_id}`, row.visit_id!)
      for (const event of events) {
        if (event.visitId === null && event.visitorId !== null) {
          event.visitId = visits.get(`${event.orgId}\u0000${event.visitorId}`) ?? null
        }
      }
      for (const pending of batch) pending.resolve(pending.events)
    } catch (err) {
      this.lastErrorAt = Date.now()
      this.options.metrics?.batchFailures.inc()
      this.options.log.error({ err, events: size, requests: batch.length }, 'batch failed')
      for (const pending of batch) pending.reject(err as Error)
    }
  }

  private async commit(events: TrackedEvent[]): Promise<BatchRow[]> {
    const result = await this.pool.query<BatchRow>(BATCH_SQL, [...toColumns(events), this.timeout])
    return result.rows
  }
}

export { pgSafeJson } from './event-rows.js'
