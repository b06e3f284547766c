import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { TrackedEvent } from '../events/event.js'
import { EVENT_COLUMNS, EVENT_COLUMN_TYPES, toColumns } from './event-rows.js'
import type { Metrics } from '../ops/metrics.js'
import type { Spool, Segment } from './spool.js'
import { isDatabaseUnavailable, isBadData, sqlState } from './failures.js'

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
  /** Events that may wait for a batch; past it write() fails with QueueFullError. */
  maxQueuedEvents?: number
  /** Where batches go while the database is unreachable; without one they fail. */
  spool?: Spool
  /** Pause between database probes while spooling. */
  spoolRetryMs?: number
}

/** The in-memory queue is full: refuse (503) rather than grow without bound. */
export class QueueFullError extends Error {
  override name = 'QueueFullError'
  constructor() {
    super('too many events are waiting to be written')
  }
}

export type SpoolState = 'off' | 'idle' | 'spooling' | 'replaying'

export interface SpoolStatus {
  state: SpoolState
  bytes: number
  maxBytes: number
  segments: number
  /** Appends are being refused: events cannot be stored until the database returns. */
  full: boolean
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

const UNIQUE_VIOLATION = '23505'

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
 *  3. the events, with their visit ids; with `idempotent`, ON CONFLICT DO NOTHING, as the event
 *     id is the idempotency key.
 */
function batchStatement(idempotent: boolean): string {
  return `
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
  ${idempotent ? 'ON CONFLICT DO NOTHING' : ''}
  RETURNING 1
)
SELECT v.org_id, v.visitor_id, v.visit_id::text, (SELECT count(*) FROM ins)::int AS inserted FROM v
UNION ALL
SELECT NULL, NULL, NULL, (SELECT count(*) FROM ins)::int WHERE NOT EXISTS (SELECT 1 FROM v)
`
}

/** Stores each event once, whatever is already stored: for replays and retries. */
export const IDEMPOTENT_BATCH_SQL = batchStatement(true)

/*
 * For batches of events stamped at receipt by this process. The primary key is (org_id,
 * event_id, received_at) and the id is a UUID v7 drawn moments ago (a deterministic id, such as
 * Workplace's Idempotency-Key, comes with a new receipt time), so such a batch cannot meet a
 * stored row; skipping the speculative insertion costs 6-8 % less per batch. Should one conflict
 * all the same, the whole statement fails with nothing written, and the batch is retried with
 * IDEMPOTENT_BATCH_SQL.
 */
export const BATCH_SQL = batchStatement(false)

/*
 * Replayed events carry the visit ids they were acknowledged with (from the instance's cache of
 * recent visits). The visitors table takes them over, so the database continues those visits
 * rather than starting new ones; an older replayed event never overrides a newer visit.
 */
const TAKEOVER_SQL = `
INSERT INTO visitors AS cur (org_id, visitor_id, visit_id, visit_started_at, first_seen, last_seen)
SELECT org_id, visitor_id, visit_id, started_at, started_at, last_at
FROM jsonb_to_recordset($1::jsonb) AS t(org_id text, visitor_id text, visit_id uuid, started_at timestamptz, last_at timestamptz)
ORDER BY org_id, visitor_id
ON CONFLICT (org_id, visitor_id) DO UPDATE SET
  visit_id = EXCLUDED.visit_id,
  visit_started_at = CASE WHEN cur.visit_id = EXCLUDED.visit_id THEN cur.visit_started_at ELSE EXCLUDED.visit_started_at END,
  last_seen = EXCLUDED.last_seen
WHERE cur.last_seen <= EXCLUDED.last_seen
`

/** Visits remembered for outages: enough for the visitors active in the last half hour. */
const VISIT_CACHE_MAX = 100_000

class ReplayStopped extends Error {}

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
  private readonly timeoutMs: number
  /** True from a batch failing for want of a database until the spool is replayed: batches go to the spool. */
  private outage = false
  private replaying: Promise<void> | undefined
  private wakeReplay: (() => void) | undefined
  private readonly visits = new Map<string, { visitId: string; lastSeen: number }>()

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: WriterOptions,
  ) {
    this.timeout = `${options.visitTimeoutMinutes * 60} seconds`
    this.timeoutMs = options.visitTimeoutMinutes * 60_000
  }

  /** Events waiting for a batch (the back-pressure signal). */
  get queueDepth(): number {
    return this.queuedEvents
  }

  /** False after a failed batch, until a batch commits again or 10 s pass without another failure. */
  get healthy(): boolean {
    return this.lastErrorAt === undefined || Date.now() - this.lastErrorAt > 10_000
  }

  get spoolStatus(): SpoolStatus {
    const spool = this.options.spool
    if (!spool) return { state: 'off', bytes: 0, maxBytes: 0, segments: 0, full: true }
    const state = this.outage ? 'spooling' : spool.hasRecords || this.replaying ? 'replaying' : 'idle'
    return { state, bytes: spool.bytes, maxBytes: spool.maxBytes, segments: spool.segments, full: spool.full }
  }

  write(events: TrackedEvent[]): Promise<TrackedEvent[]> {
    if (this.closing) return Promise.reject(new WriterClosedError())
    if (events.length === 0) return Promise.resolve(events)
    // A single request larger than the bound is still taken when nothing waits, or it never could be.
    const max = this.options.maxQueuedEvents ?? Infinity
    if (this.queuedEvents > 0 && this.queuedEvents + events.length > max) return Promise.reject(new QueueFullError())
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject })
      this.queuedEvents += events.length
      if (this.queuedEvents >= this.options.maxBatchEvents) this.drain()
      else this.timer ??= setTimeout(() => this.drain(), this.options.windowMs)
    })
  }

  /**
   * Stop accepting writes and wait for everything queued or in flight to settle (committed or
   * spooled). A replay in progress stops between transactions; the rest waits in the spool for
   * the next start.
   */
  async close(): Promise<void> {
    this.closing = true
    this.drain()
    if (this.inflight > 0 || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    }
    this.wakeReplay?.()
    await this.replaying
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
    if (this.outage) return this.spoolBatch(batch, events)
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
          // Look the visitor up as the database stored it (no NUL, no lone surrogate).
          event.visitId = visits.get(`${asStored(event.orgId)}\u0000${asStored(event.visitorId)}`) ?? null
        }
        this.rememberVisit(event)
      }
      for (const pending of batch) pending.resolve(pending.events)
    } catch (err) {
      if (this.options.spool && isDatabaseUnavailable(err)) {
        if (!this.outage) this.options.log.warn({ err }, 'database unreachable: spooling events until it returns')
        this.outage = true
        return this.spoolBatch(batch, events)
      }
      this.lastErrorAt = Date.now()
      this.options.metrics?.batchFailures.inc()
      this.options.log.error({ err, events: size, requests: batch.length }, 'batch failed')
      for (const pending of batch) pending.reject(err as Error)
    }
  }

  /**
   * Acknowledge a batch from the local spool: visits come from the cache of recent visits (or are
   * new), so each event keeps the eventId, receivedAt and visitId it is acknowledged with.
   */
  private async spoolBatch(batch: Pending[], events: TrackedEvent[]): Promise<void> {
    for (const event of events) {
      if (event.visitId === null && event.visitorId !== null) event.visitId = this.cachedVisit(event)
      this.rememberVisit(event)
    }
    try {
      await this.options.spool!.append(events)
      for (const pending of batch) pending.resolve(pending.events)
    } catch (err) {
      for (const pending of batch) pending.reject(err as Error)
    }
    this.startReplay()
  }

  private cachedVisit(event: TrackedEvent): string {
    const known = this.visits.get(`${event.orgId}\u0000${event.visitorId}`)
    return known && event.receivedAt.getTime() - known.lastSeen <= this.timeoutMs ? known.visitId : randomUUID()
  }

  private rememberVisit(event: TrackedEvent): void {
    if (event.visitId === null || event.visitorId === null) return
    const key = `${event.orgId}\u0000${event.visitorId}`
    const at = event.receivedAt.getTime()
    const known = this.visits.get(key)
    if (known) {
      // Re-inserted so that the Map's order is least recently seen first: the oldest is dropped.
      this.visits.delete(key)
      known.visitId = event.visitId
      known.lastSeen = Math.max(at, known.lastSeen)
      this.visits.set(key, known)
      return
    }
    this.visits.set(key, { visitId: event.visitId, lastSeen: at })
    if (this.visits.size > VISIT_CACHE_MAX) this.visits.delete(this.visits.keys().next().value!)
  }

  /** Replay the spool in the background (no-op when already running or nothing to do). */
  startReplay(): void {
    const spool = this.options.spool
    if (!spool || this.replaying || this.closing || !(spool.hasRecords || spool.appending || this.outage)) return
    this.replaying = this.replayLoop()
      .catch((err: unknown) => this.options.log.error({ err }, 'spool replay stopped'))
      .finally(() => {
        this.replaying = undefined
        if (spool.hasRecords) this.startReplay()
      })
  }

  private async replayLoop(): Promise<void> {
    const spool = this.options.spool!
    while (!this.closing) {
      if (!spool.hasRecords) {
        // Caught up: new batches go to the database again. Appends still being written when this
        // switch happens are replayed right after them.
        if (this.outage) this.options.log.info('spool replayed: writing to the database again')
        this.outage = false
        if (!spool.appending) return
        await spool.settled()
        continue
      }
      if (!(await this.databaseReachable())) {
        await this.pause()
        continue
      }
      const segment = await spool.oldest()
      if (!segment) continue
      try {
        await this.replaySegment(segment)
        await spool.remove(segment)
      } catch (err) {
        if (err instanceof ReplayStopped) return
        this.options.log.warn({ err, file: segment.file }, 'spool replay interrupted; retrying')
        await this.pause()
      }
    }
  }

  private async databaseReachable(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1')
      return true
    } catch {
      return false
    }
  }

  private pause(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.spoolRetryMs ?? 1000)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wakeReplay = done
    }).finally(() => {
      this.wakeReplay = undefined
    })
  }

  private async replaySegment(segment: Segment): Promise<void> {
    const batches = await this.options.spool!.read(segment)
    let chunk: TrackedEvent[] = []
    for (const events of batches) {
      if (chunk.length > 0 && chunk.length + events.length > this.options.maxBatchEvents) {
        await this.replayChunk(chunk)
        chunk = []
      }
      chunk.push(...events)
    }
    if (chunk.length > 0) await this.replayChunk(chunk)
    this.options.log.info({ file: segment.file, batches: batches.length }, 'spool segment replayed')
  }

  /**
   * Commit replayed events. The database being unreachable again aborts the replay (retried
   * later); an event it refuses on its own (bad data) is set aside with the reason, found by
   * halving the chunk, so one bad event cannot hold back the rest forever.
   */
  private async replayChunk(events: TrackedEvent[]): Promise<void> {
    if (this.closing) throw new ReplayStopped()
    try {
      await this.commitReplay(events)
    } catch (err) {
      if (!isBadData(err)) throw err
      if (events.length === 1) {
        this.options.log.error({ err, eventId: events[0]!.eventId }, 'spooled event refused by the database; kept in spool/rejected.ndjson')
        await this.options.spool!.reject(events[0]!, (err as Error).message)
        return
      }
      const half = Math.ceil(events.length / 2)
      await this.replayChunk(events.slice(0, half))
      await this.replayChunk(events.slice(half))
    }
  }

  private async commitReplay(events: TrackedEvent[]): Promise<void> {
    const takeover = new Map<string, { org_id: string; visitor_id: string; visit_id: string; started_at: Date; last_at: Date }>()
    for (const e of events) {
      if (e.visitId === null || e.visitorId === null) continue
      const key = `${e.orgId}\u0000${e.visitorId}`
      const current = takeover.get(key)
      if (current && current.visit_id === e.visitId) current.last_at = e.receivedAt
      else takeover.set(key, { org_id: e.orgId, visitor_id: e.visitorId, visit_id: e.visitId, started_at: e.receivedAt, last_at: e.receivedAt })
    }
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      await client.query(IDEMPOTENT_BATCH_SQL, [...toColumns(events), this.timeout])
      if (takeover.size > 0) await client.query(TAKEOVER_SQL, [JSON.stringify([...takeover.values()])])
      await client.query('COMMIT')
    } catch (err) {
      broken = err as Error
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release(broken && isDatabaseUnavailable(broken) ? broken : undefined)
    }
  }

  private async commit(events: TrackedEvent[]): Promise<BatchRow[]> {
    // Named statements are parsed and planned once per connection: planning this CTE cost about
    // as much as executing it for small batches (writer bench, 1 event x 50 writers: +37-55 %).
    const values = [...toColumns(events), this.timeout]
    try {
      return (await this.pool.query<BatchRow>({ name: 'searchtrack_batch', text: BATCH_SQL, values })).rows
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION) throw err
      return (await this.pool.query<BatchRow>({ name: 'searchtrack_idempotent_batch', text: IDEMPOTENT_BATCH_SQL, values })).rows
    }
  }
}

export { pgSafeJson } from './event-rows.js'

/** A string as PostgreSQL keeps it: NULs dropped (see event-rows), lone surrogates as U+FFFD. */
function asStored(value: string): string {
  return (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value).toWellFormed()
}
