import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { TrackedEvent } from '../events/event.js'
import { HttpError } from '../errors.js'
import { checkEvent, pgSafeJson, toColumns, toTextArray } from './event-rows.js'
import { batchStatement } from './writer-sql.js'
import { CITUS_WRITER_CALL, isCitus } from './citus.js'
import { LRUCache } from 'lru-cache'
import type { Metrics } from '../ops/metrics.js'
import type { Spool, Segment } from './spool.js'
import type { Quarantine } from './quarantine.js'
import { isDatabaseUnavailable, isDataError, sqlState } from './failures.js'
import { withClient } from './client.js'
import { maskIp } from '../events/enrich.js'

export interface WriterOptions {
  /** How long the first request of a batch waits for others to join it. */
  windowMs: number
  /** A batch is flushed as soon as it holds this many events (a single request is never split). */
  maxBatchEvents: number
  /** Batches committing at once (each holds one connection of the writer's pool). */
  concurrency: number
  /** Inactivity after which a visitor's next event starts a new visit. */
  visitTimeoutMinutes: number
  log: Logger
  metrics?: Metrics
  /** Events that may wait for a batch; past it write() fails with QueueFullError. */
  maxQueuedEvents?: number
  /** Where batches go while the database is unreachable; without one they fail. */
  spool?: Spool
  /** Where replayed events go that the database refuses for their data. */
  quarantine?: Quarantine
  /** Pause between database probes while spooling. */
  spoolRetryMs?: number
}

/** The in-memory queue is full: refuse (503) rather than grow without bound. */
export class QueueFullError extends HttpError {
  override name = 'QueueFullError'
  constructor() {
    super(503, 'Overloaded', 'Too many events are waiting to be written; retry shortly', { 'retry-after': '1' })
  }
}

export class WriterClosedError extends HttpError {
  override name = 'WriterClosedError'
  constructor() {
    super(503, 'ShuttingDown', 'The service is restarting; retry shortly', { 'retry-after': '1' })
  }
}

/**
 * The database refused this request's events for their data. Found by splitting the batch, so
 * only this request is refused; the others of its batch are committed.
 */
export class EventRefusedError extends HttpError {
  override name = 'EventRefusedError'
  constructor(readonly sqlstate: string | undefined) {
    super(400, 'InvalidValue', 'A value of this request cannot be stored (out of range or too large); nothing of it was stored')
  }
}

/** Applied to every event before it is queued (src/privacy/identity.ts); may change it in place. */
export type IdentityPolicy = (events: TrackedEvent[]) => void | Promise<void>

export type SpoolState = 'off' | 'idle' | 'spooling' | 'replaying'

export interface SpoolStatus {
  state: SpoolState
  bytes: number
  maxBytes: number
  segments: number
  /** Appends are being refused for want of room: events cannot be stored until the database returns. */
  full: boolean
  /** The last append failed to write (disk full, read-only, I/O error) and none has succeeded since. */
  failing: boolean
}

interface Pending {
  events: TrackedEvent[]
  resolve: (events: TrackedEvent[]) => void
  reject: (err: Error) => void
}

const UNIQUE_VIOLATION = '23505'

/*
 * For batches of events stamped at receipt by this process. The primary key is (org_id,
 * event_id, received_at) and the id is a UUID v7 drawn moments ago, so such a batch cannot meet
 * a stored row; skipping the speculative insertion costs 6-8 % less per batch. Should one
 * conflict all the same, the whole statement fails with nothing written, and the batch is
 * retried with the idempotent form.
 */
const STATEMENTS = {
  fast: { name: 'searchtrack_batch', text: batchStatement({ idempotent: false, keyed: false }) },
  fastKeyed: { name: 'searchtrack_batch_keyed', text: batchStatement({ idempotent: false, keyed: true }) },
  idempotent: { name: 'searchtrack_idempotent_batch', text: batchStatement({ idempotent: true, keyed: false }) },
  idempotentKeyed: { name: 'searchtrack_idempotent_batch_keyed', text: batchStatement({ idempotent: true, keyed: true }) },
}

/*
 * On Citus, replays (commitAcknowledged) run in one transaction through the distributed tables:
 * the same statements with the erasure filter as an anti-join (see batchStatement).
 */
const CITUS_REPLAY_STATEMENTS = {
  idempotent: { text: batchStatement({ idempotent: true, keyed: false, erasedAntiJoin: true, shardKey: true }) },
  idempotentKeyed: { text: batchStatement({ idempotent: true, keyed: true, erasedAntiJoin: true, shardKey: true }) },
}

/** Stores each event once, whatever is already stored: for replays and retries. */
export const IDEMPOTENT_BATCH_SQL = STATEMENTS.idempotent.text

/*
 * Replayed events carry the visit ids they were acknowledged with (from the instance's cache of
 * recent visits). The visitors table takes them over, so the database continues those visits
 * rather than starting new ones; an older replayed event never overrides a newer visit.
 */
const TAKEOVER_SQL = `
INSERT INTO visitors AS cur (org_id, visitor_id, visit_id, visit_started_at, first_seen, last_seen)
SELECT org_id, visitor_id, visit_id, started_at, started_at, last_at
FROM jsonb_to_recordset($1::jsonb) AS t(org_id text, visitor_id text, visit_id uuid, started_at timestamptz, last_at timestamptz)
-- A visitor erased after their last replayed event gets no row back (see ERASED_FILTER).
WHERE NOT EXISTS (SELECT 1 FROM privacy_erasures pe
  WHERE pe.org_id = t.org_id AND pe.subject = privacy_subject('visitor', t.visitor_id) AND t.last_at < pe.erased_before)
ORDER BY org_id, visitor_id
ON CONFLICT (org_id, visitor_id) DO UPDATE SET
  visit_id = EXCLUDED.visit_id,
  visit_started_at = CASE WHEN cur.visit_id = EXCLUDED.visit_id THEN cur.visit_started_at ELSE EXCLUDED.visit_started_at END,
  last_seen = EXCLUDED.last_seen
WHERE cur.last_seen <= EXCLUDED.last_seen
`

/** TAKEOVER_SQL on Citus, which cannot plan its correlated NOT EXISTS over a set-returning function. */
const CITUS_TAKEOVER_SQL = `
INSERT INTO visitors AS cur (org_id, visitor_id, visit_id, visit_started_at, first_seen, last_seen)
SELECT t.org_id, t.visitor_id, t.visit_id, t.started_at, t.started_at, t.last_at
FROM jsonb_to_recordset($1::jsonb) AS t(org_id text, visitor_id text, visit_id uuid, started_at timestamptz, last_at timestamptz)
LEFT JOIN privacy_erasures pe
  ON pe.org_id = t.org_id AND pe.subject = privacy_subject('visitor', t.visitor_id) AND t.last_at < pe.erased_before
WHERE pe.org_id IS NULL
ORDER BY t.org_id, t.visitor_id
ON CONFLICT (org_id, visitor_id) DO UPDATE SET
  visit_id = EXCLUDED.visit_id,
  visit_started_at = CASE WHEN cur.visit_id = EXCLUDED.visit_id THEN cur.visit_started_at ELSE EXCLUDED.visit_started_at END,
  last_seen = EXCLUDED.last_seen
WHERE cur.last_seen <= EXCLUDED.last_seen
`

/*
 * Visits made up by an instance that spooled while the database was away from it alone: other
 * instances may have kept the same visitors' visits going meanwhile. A made-up visit whose events
 * fall within the timeout of the visitor's current visit joins it; otherwise it stays a visit of
 * its own. Answers the made-up ids that join, with the visit they join.
 */
const SETTLE_SQL = `
SELECT t.visit_id::text AS provisional, cur.visit_id::text AS settled
FROM jsonb_to_recordset($1::jsonb) AS t(org_id text, visitor_id text, visit_id uuid, first_at timestamptz, last_at timestamptz)
JOIN visitors cur ON cur.org_id = t.org_id AND cur.visitor_id = t.visitor_id
WHERE cur.visit_id <> t.visit_id
  AND t.first_at <= cur.last_seen + $2::interval
  AND t.last_at >= cur.visit_started_at - $2::interval
`

interface VisitSpan {
  org_id: string
  visitor_id: string
  visit_id: string
  first_at: Date
  last_at: Date
}

/** Each visitor's visits in `events` (those with a visit id), with their first and last receipt. */
function visitSpans(events: readonly TrackedEvent[], only: (e: TrackedEvent) => boolean): VisitSpan[] {
  const spans = new Map<string, VisitSpan>()
  for (const e of events) {
    if (e.visitId === null || e.visitorId === null || !only(e)) continue
    const key = `${e.orgId}\u0000${e.visitorId}\u0000${e.visitId}`
    const span = spans.get(key)
    if (!span) spans.set(key, { org_id: e.orgId, visitor_id: e.visitorId, visit_id: e.visitId, first_at: e.receivedAt, last_at: e.receivedAt })
    else {
      if (e.receivedAt < span.first_at) span.first_at = e.receivedAt
      if (e.receivedAt > span.last_at) span.last_at = e.receivedAt
    }
  }
  return [...spans.values()]
}

interface BatchRow {
  org_id: string | null
  visitor_id: string | null
  visit_id: string | null
  inserted: number | null
  duplicates: string[] | null
}

interface BatchResult {
  rows: BatchRow[]
  inserted: number
  /** Events left out because their idempotency key was already taken. */
  duplicates: ReadonlySet<string>
}

const NO_DUPLICATES: ReadonlySet<string> = new Set()

function statementFor(events: readonly TrackedEvent[], idempotent: boolean, timeout: string, citus = false) {
  const keyed = events.some((e) => e.idempotencyKey)
  const statement = citus
    ? keyed ? CITUS_REPLAY_STATEMENTS.idempotentKeyed : CITUS_REPLAY_STATEMENTS.idempotent
    : idempotent ? (keyed ? STATEMENTS.idempotentKeyed : STATEMENTS.idempotent) : keyed ? STATEMENTS.fastKeyed : STATEMENTS.fast
  const values: unknown[] = toColumns(events)
  if (keyed) values.push(toTextArray(events.map((e) => e.idempotencyKey)))
  values.push(timeout)
  return { ...statement, values }
}

function toResult(rows: BatchRow[]): BatchResult {
  const trailer = rows[rows.length - 1]
  return {
    rows,
    inserted: trailer?.inserted ?? 0,
    duplicates: trailer?.duplicates?.length ? new Set(trailer.duplicates) : NO_DUPLICATES,
  }
}

/**
 * Store events that were acknowledged earlier (a spool replay, a re-driven quarantine): once
 * each, in one transaction, with the visit ids they were acknowledged with — except made-up
 * visits that settle on the visit another instance kept (SETTLE_SQL). Throws what the database
 * throws.
 */
export async function commitAcknowledged(pool: pg.Pool, events: readonly TrackedEvent[], visitTimeoutMinutes: number): Promise<BatchResult> {
  const timeout = `${visitTimeoutMinutes * 60} seconds`
  const provisional = visitSpans(events, (e) => e.visitProvisional === true)
  const citus = await isCitus(pool)
  return withClient(pool, async (client) => {
    await client.query('BEGIN')
    try {
      if (provisional.length > 0) {
        const { rows } = await client.query<{ provisional: string; settled: string }>(SETTLE_SQL, [pgSafeJson(JSON.stringify(provisional)), timeout])
        const settled = new Map(rows.map((r) => [r.provisional, r.settled]))
        for (const e of events) {
          const visit = e.visitProvisional && e.visitId !== null ? settled.get(e.visitId) : undefined
          if (visit !== undefined) e.visitId = visit
        }
      }
      const result = toResult((await client.query<BatchRow>(statementFor(events, true, timeout, citus))).rows)
      // One row per visitor (an upsert may touch a row once): the visit it was last seen in.
      const latest = new Map<string, VisitSpan>()
      for (const span of visitSpans(events, () => true)) {
        const key = `${span.org_id}\u0000${span.visitor_id}`
        const known = latest.get(key)
        if (!known || span.last_at > known.last_at) latest.set(key, span)
      }
      const takeover = [...latest.values()].map((s) => ({ ...s, started_at: s.first_at }))
      if (takeover.length > 0) await client.query(citus ? CITUS_TAKEOVER_SQL : TAKEOVER_SQL, [pgSafeJson(JSON.stringify(takeover))])
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
  })
}

/**
 * The shard key of an event on Citus, as the database computes it (shardKeySql): its visitor, else
 * its idempotency key, else its id — as stored (no NUL, no lone surrogate).
 */
function shardKeyOf(event: TrackedEvent): string {
  if (event.visitorId !== null && event.visitorId !== undefined) return asStored(event.visitorId)
  if (event.idempotencyKey) return asStored(event.idempotencyKey)
  return event.eventId
}

/*
 * Which shard each key is on, as Citus hashes it: asked of the coordinator for the keys of a batch
 * not seen recently (one round trip), remembered for the visitors of the last while. A split
 * shard makes a remembered answer wrong; the writer function then sees events of another shard
 * in its call and takes the distributed way, still correct.
 */
const shardCaches = new WeakMap<pg.Pool, LRUCache<string, string>>()

async function shardsOf(pool: pg.Pool, keys: string[]): Promise<Map<string, string>> {
  let shardOfKey = shardCaches.get(pool)
  if (!shardOfKey) shardCaches.set(pool, (shardOfKey = new LRUCache<string, string>({ max: 200_000 })))
  const shards = new Map<string, string>()
  const unknown: string[] = []
  for (const key of keys) {
    const shard = shardOfKey.get(key)
    if (shard === undefined) unknown.push(key)
    else shards.set(key, shard)
  }
  if (unknown.length > 0) {
    const { rows } = await pool.query<{ k: string; shard: string }>(
      `SELECT k, get_shard_id_for_distribution_column('events', k)::text AS shard FROM unnest($1::text[]) k`,
      [unknown],
    )
    for (const { k, shard } of rows) {
      shardOfKey.set(k, shard)
      shards.set(k, shard)
    }
  }
  return shards
}

/** One call of the Citus writer function: the events of one shard key, on the node holding it. */
async function commitCitusGroup(pool: pg.Pool, key: string, events: readonly TrackedEvent[], idempotent: boolean, timeout: string): Promise<BatchRow[]> {
  const keyed = events.some((e) => e.idempotencyKey)
  const values: unknown[] = [key, idempotent, ...toColumns(events), keyed ? toTextArray(events.map((e) => e.idempotencyKey)) : null, timeout]
  const { rows } = await pool.query<{ r: BatchRow[] }>({ text: CITUS_WRITER_CALL, values })
  return rows[0]!.r
}

/*
 * A batch on Citus: one call of the writer function per shard (src/store/citus.ts), each its
 * own transaction on the node holding the key, all at once. Like the single statement on plain
 * PostgreSQL, a group stamped at receipt goes without ON CONFLICT, and a group that meets a stored
 * row is retried alone with it; a batch that fails part-way is retried whole by its caller, and
 * groups already committed then store nothing twice (their event ids are taken).
 */
async function commitCitus(pool: pg.Pool, events: readonly TrackedEvent[], timeout: string): Promise<BatchResult> {
  const keys = events.map(shardKeyOf)
  const shards = await shardsOf(pool, [...new Set(keys)])
  // One group per shard, called with the key of its first event.
  const groups = new Map<string, [string, TrackedEvent[]]>()
  for (let i = 0; i < events.length; i++) {
    const shard = shards.get(keys[i]!)!
    const group = groups.get(shard)
    if (group) group[1].push(events[i]!)
    else groups.set(shard, [keys[i]!, [events[i]!]])
  }
  const settled = await Promise.allSettled(
    [...groups.values()].map(async ([key, group]) => {
      try {
        return await commitCitusGroup(pool, key, group, false, timeout)
      } catch (err) {
        if (sqlState(err) !== UNIQUE_VIOLATION) throw err
        return commitCitusGroup(pool, key, group, true, timeout)
      }
    }),
  )
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed) throw failed.reason
  const rows: BatchRow[] = []
  let inserted = 0
  let duplicates: Set<string> | undefined
  for (const s of settled) {
    for (const row of (s as PromiseFulfilledResult<BatchRow[]>).value) {
      if (row.org_id !== null) rows.push(row)
      else {
        inserted += row.inserted ?? 0
        if (row.duplicates?.length) for (const id of row.duplicates) (duplicates ??= new Set()).add(id)
      }
    }
  }
  return { rows, inserted, duplicates: duplicates ?? NO_DUPLICATES }
}

/** Visits remembered for outages: enough for the visitors active in the last half hour. */
const VISIT_CACHE_MAX = 100_000

class ReplayStopped extends Error {}

/**
 * Group-commit writer. `write()` resolves only once its events are committed (or, while the
 * database is unreachable, fsynced to the spool): many concurrent requests share one transaction,
 * so the service is not capped at the disk's fsync rate. A batch the database refuses for its data
 * is split until the requests at fault are found: only they are refused.
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
  /** Each visitor's last visit, and whether the database has seen it (not when made up in an outage). */
  private readonly visits = new Map<string, { visitId: string; lastSeen: number; provisional: boolean }>()
  private identityPolicy: IdentityPolicy | undefined
  /** Whether the database is Citus: asked once, at the first batch. */
  private citus: boolean | undefined

  /** `pool` should be the writer's own: its size is `concurrency` plus one for the replay. */
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

  /**
   * False after a batch or a replay failed for a reason that is neither the data (that request
   * alone is refused) nor the database being away (the spool takes over), until a batch commits
   * again or 10 s pass without another failure.
   */
  get healthy(): boolean {
    return this.lastErrorAt === undefined || Date.now() - this.lastErrorAt > 10_000
  }

  get spoolStatus(): SpoolStatus {
    const spool = this.options.spool
    if (!spool) return { state: 'off', bytes: 0, maxBytes: 0, segments: 0, full: true, failing: false }
    const state = this.outage ? 'spooling' : spool.hasRecords || this.replaying ? 'replaying' : 'idle'
    return { state, bytes: spool.bytes, maxBytes: spool.maxBytes, segments: spool.segments, full: spool.full, failing: spool.failing }
  }

  /**
   * Privacy hook (src/privacy/identity.ts): each org's identity controls, applied to every event
   * before it is queued, so before anything of it is stored or spooled. Protocols hand over the
   * client's full address; without a hook it is masked here (the default policy).
   */
  setIdentityPolicy(policy: IdentityPolicy): void {
    this.identityPolicy = policy
  }

  write(events: TrackedEvent[]): Promise<TrackedEvent[]> {
    if (this.closing) return Promise.reject(new WriterClosedError())
    if (events.length === 0) return Promise.resolve(events)
    let applied: void | Promise<void> = undefined
    try {
      if (this.identityPolicy) applied = this.identityPolicy(events)
      else for (const event of events) event.clientIp = maskIp(event.clientIp)
    } catch (err) {
      return Promise.reject(err)
    }
    if (applied) return applied.then(() => this.enqueue(events))
    return this.enqueue(events)
  }

  private enqueue(events: TrackedEvent[]): Promise<TrackedEvent[]> {
    if (this.closing) return Promise.reject(new WriterClosedError())
    try {
      for (const event of events) checkEvent(event)
    } catch (err) {
      return Promise.reject(err)
    }
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
      void this.flush(batch).finally(() => {
        this.inflight--
        // Whatever queued while this batch committed has already waited: send it now.
        if (this.queue.length > 0) this.drain()
        else if (this.inflight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve())
      })
    }
  }

  /**
   * Commit a batch. When the database refuses it for its data, commit each half on its own, down
   * to the one request at fault, which alone is refused: a bad value can neither fail another
   * tenant's requests nor make the writer look unhealthy.
   */
  private async flush(batch: Pending[]): Promise<void> {
    if (this.outage && this.options.spool) return this.spoolBatch(batch)
    const events = batch.length === 1 ? batch[0]!.events : batch.flatMap((p) => p.events)
    const started = process.hrtime.bigint()
    let result: BatchResult
    try {
      result = await this.commit(events)
    } catch (err) {
      if (this.options.spool && isDatabaseUnavailable(err)) {
        if (!this.outage) this.options.log.warn({ err }, 'database unreachable: spooling events until it returns')
        this.outage = true
        return this.spoolBatch(batch)
      }
      if (isDataError(err)) {
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2)
          await this.flush(batch.slice(0, half))
          await this.flush(batch.slice(half))
          return
        }
        const refused = new EventRefusedError(sqlState(err))
        this.options.log.warn({ err, eventIds: events.slice(0, 10).map((e) => e.eventId), events: events.length }, 'request refused by the database for its data')
        this.options.metrics?.refusedByDatabase.inc()
        batch[0]!.reject(refused)
        return
      }
      this.lastErrorAt = Date.now()
      this.options.metrics?.batchFailures.inc()
      this.options.log.error({ err, events: events.length, requests: batch.length }, 'batch failed')
      for (const pending of batch) pending.reject(err as Error)
      return
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    this.lastErrorAt = undefined
    this.options.metrics?.observeBatch(events.length, seconds)
    const visits = new Map<string, string>()
    for (const row of result.rows) if (row.org_id !== null) visits.set(`${row.org_id}\u0000${row.visitor_id}`, row.visit_id!)
    for (const event of events) {
      if (event.visitId === null && event.visitorId !== null) {
        // Look the visitor up as the database stored it (no NUL, no lone surrogate).
        event.visitId = visits.get(`${asStored(event.orgId)}\u0000${asStored(event.visitorId)}`) ?? null
      }
      this.rememberVisit(event)
    }
    this.acknowledge(batch, result.duplicates)
  }

  private acknowledge(batch: Pending[], duplicates: ReadonlySet<string>): void {
    const metrics = this.options.metrics
    for (const pending of batch) {
      if (metrics) {
        if (duplicates.size === 0) metrics.countAccepted(pending.events)
        else {
          const fresh = pending.events.filter((e) => !duplicates.has(e.eventId))
          metrics.countAccepted(fresh)
          metrics.duplicates.inc(pending.events.length - fresh.length)
        }
      }
      pending.resolve(pending.events)
    }
  }

  /**
   * Acknowledge a batch from the local spool: visits come from the cache of recent visits (or are
   * new), so each event keeps the eventId, receivedAt and visitId it is acknowledged with. An
   * event whose idempotency key turns out to be taken is dropped at replay.
   */
  private async spoolBatch(batch: Pending[]): Promise<void> {
    const events = batch.flatMap((p) => p.events)
    for (const event of events) {
      if (event.visitId === null && event.visitorId !== null) event.visitId = this.cachedVisit(event)
      this.rememberVisit(event)
    }
    try {
      await this.options.spool!.append(events)
      this.acknowledge(batch, NO_DUPLICATES)
    } catch (err) {
      for (const pending of batch) pending.reject(err as Error)
    }
    this.startReplay()
  }

  private cachedVisit(event: TrackedEvent): string {
    const known = this.visits.get(`${event.orgId}\u0000${event.visitorId}`)
    if (known && event.receivedAt.getTime() - known.lastSeen <= this.timeoutMs) {
      if (known.provisional) event.visitProvisional = true
      return known.visitId
    }
    event.visitProvisional = true
    return randomUUID()
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
      known.provisional = event.visitProvisional === true
      this.visits.set(key, known)
      return
    }
    this.visits.set(key, { visitId: event.visitId, lastSeen: at, provisional: event.visitProvisional === true })
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
        if (isDatabaseUnavailable(err)) {
          this.options.log.warn({ err, file: segment.file }, 'spool replay interrupted: the database is unreachable again; retrying')
        } else {
          // Neither the data (isolated below) nor the connection: a fault of the database or the
          // schema that a retry may outlive. The instance reports it until then.
          this.lastErrorAt = Date.now()
          this.options.log.error({ err, file: segment.file }, 'spool replay failed; retrying')
        }
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
   * later, idempotently); events it refuses for their data are found by halving the chunk and
   * quarantined, so one bad event never holds back those behind it.
   */
  private async replayChunk(events: TrackedEvent[]): Promise<void> {
    if (this.closing) throw new ReplayStopped()
    try {
      const result = await commitAcknowledged(this.pool, events, this.options.visitTimeoutMinutes)
      // Already stored: replayed before (a replay cut short), or a retry whose key was taken.
      if (result.inserted < events.length) this.options.metrics?.duplicates.inc(events.length - result.inserted)
    } catch (err) {
      if (!isDataError(err) || !this.options.quarantine) throw err
      if (events.length === 1) {
        await this.options.quarantine.add(events[0]!, err)
        return
      }
      const half = Math.ceil(events.length / 2)
      await this.replayChunk(events.slice(0, half))
      await this.replayChunk(events.slice(half))
    }
  }

  private async commit(events: TrackedEvent[]): Promise<BatchResult> {
    this.citus ??= await isCitus(this.pool)
    if (this.citus) return commitCitus(this.pool, events, this.timeout)
    // Named statements are parsed and planned once per connection: planning this CTE cost about
    // as much as executing it for small batches (writer bench, 1 event x 50 writers: +37-55 %).
    try {
      return toResult((await this.pool.query<BatchRow>(statementFor(events, false, this.timeout))).rows)
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION) throw err
      return toResult((await this.pool.query<BatchRow>(statementFor(events, true, this.timeout))).rows)
    }
  }
}

export { pgSafeJson } from './event-rows.js'

/** A string as PostgreSQL keeps it: NULs dropped (see event-rows), lone surrogates as U+FFFD. */
function asStored(value: string): string {
  return (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value).toWellFormed()
}
