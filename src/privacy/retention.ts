import type pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import { withClient } from '../store/client.js'
import { isCitus } from '../store/citus.js'
import { eventPartitions } from './erase.js'
import { readAllSettings } from './settings.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** How long an erasure record is kept (see ERASED_FILTER in src/store/writer.ts). */
export const ERASURE_KEEP_DAYS = 30
/** Held by the instance running a pass: one pass at a time per database. */
const RETENTION_LOCK = 7405112080

export interface RetentionOptions {
  /** Rows per delete statement (each its own short transaction). */
  batchRows?: number
  /**
   * How long a DROP may wait for its lock before giving up (ms). Dropping a partition takes an
   * exclusive lock on `events`; while it waits, new batches queue behind it, so this bounds the
   * pause ingest can see, once per dropped partition. A busy partition is deleted by rows instead.
   */
  lockTimeoutMs?: number
  log?: Pick<Logger, 'info' | 'warn'>
}

export interface RetentionResult {
  /** Partitions dropped whole. */
  dropped: string[]
  /** Rows deleted per table. */
  deleted: Record<string, number>
  ms: number
  /** False when another instance held the pass. */
  ran: boolean
}

export interface RetentionRun {
  lastRunAt: Date | null
  lastRunMs: number | null
  dropped: string[]
  deletedRows: number
}

export async function lastRetentionRun(db: pg.Pool): Promise<RetentionRun> {
  const { rows } = await db.query<{ last_run_at: Date | null; last_run_ms: number | null; dropped: string[]; deleted_rows: string }>(
    'SELECT last_run_at, last_run_ms, dropped, deleted_rows FROM retention_state',
  )
  const r = rows[0]
  return { lastRunAt: r?.last_run_at ?? null, lastRunMs: r?.last_run_ms ?? null, dropped: r?.dropped ?? [], deletedRows: Number(r?.deleted_rows ?? 0) }
}

/** The month a partition named events_yYYYYmMM holds; null for the default partition. */
export function partitionRange(name: string): { from: Date; to: Date } | null {
  const m = /^events_y(\d{4})m(\d{2})$/.exec(name)
  if (!m) return null
  const year = Number(m[1])
  const month = Number(m[2]) - 1
  return { from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) }
}

/** The orgs with rows in a partition: a skip scan over its (org_id, received_at) index. */
async function orgsIn(db: pg.Pool, partition: string): Promise<string[]> {
  const { rows } = await db.query<{ org_id: string }>(
    `WITH RECURSIVE o AS (
       SELECT min(org_id) AS org_id FROM ${partition}
       UNION ALL
       SELECT (SELECT min(org_id) FROM ${partition} WHERE org_id > o.org_id) FROM o WHERE o.org_id IS NOT NULL
     ) SELECT org_id FROM o WHERE org_id IS NOT NULL`,
  )
  return rows.map((r) => r.org_id)
}

/**
 * Delete the rows `where` selects, `batch` at a time, each statement its own transaction: row locks
 * on a few thousand rows for a few milliseconds, never a lock an insert waits for.
 */
async function deleteInBatches(db: pg.Pool, table: string, where: string, params: unknown[], batch: number): Promise<number> {
  let total = 0
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${where} LIMIT ${batch}))`,
      params,
    )
    total += rowCount ?? 0
    if ((rowCount ?? 0) < batch) return total
  }
}

/**
 * One retention pass at `now`. Raw data (events, report facts and visits, visitors, quarantined
 * events) older than an org's `rawDays`, and tiles older than its `rollupDays`, are removed:
 *  - a monthly partition of `events` is dropped whole when every org with rows in it allows it;
 *  - otherwise each org's expired rows are deleted in bounded batches.
 * Orgs without a setting keep everything. Idempotent; safe beside ingest and other instances.
 */
export async function runRetention(db: pg.Pool, now: Date, options: RetentionOptions = {}): Promise<RetentionResult> {
  const started = Date.now()
  const batch = options.batchRows ?? 5000
  const deleted: Record<string, number> = {}
  const count = (table: string, n: number) => {
    if (n > 0) deleted[table] = (deleted[table] ?? 0) + n
  }
  const dropped: string[] = []
  const ran = await withClient(db, async (lockClient) => {
    const { rows } = await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK])
    if (!rows[0]!.ok) return false
    try {
      const settings = await readAllSettings(db)
      const rawCutoff = new Map<string, Date>()
      const rollupCutoff = new Map<string, Date>()
      for (const [org, s] of settings) {
        if (s.rawDays !== null) rawCutoff.set(org, new Date(now.getTime() - s.rawDays * DAY_MS))
        if (s.rollupDays !== null) rollupCutoff.set(org, new Date(now.getTime() - s.rollupDays * DAY_MS))
      }
      // An erasure is kept for 30 days: long enough for any spool or in-flight batch holding the
      // person's events to reach the database (and be left out); after that it only costs ingest.
      count('privacy_erasures', (await db.query(`DELETE FROM privacy_erasures WHERE erased_before < $1`, [new Date(now.getTime() - ERASURE_KEEP_DAYS * DAY_MS)])).rowCount ?? 0)
      if (rawCutoff.size === 0 && rollupCutoff.size === 0) return true

      for (const partition of await eventPartitions(db)) {
        const range = partitionRange(partition)
        // Partitions wholly within every present org's retention are left alone.
        if (range && ![...rawCutoff.values()].some((c) => c > range.from)) continue
        const orgs = await orgsIn(db, partition)
        // Dropped whole when every org with rows in it allows it (an empty one: when some org's
        // cutoff has passed it; nothing of anyone's is lost).
        const allow = (cutoff: Date | undefined) => cutoff !== undefined && cutoff.getTime() >= range!.to.getTime()
        if (range && (orgs.length > 0 ? orgs.every((o) => allow(rawCutoff.get(o))) : [...rawCutoff.values()].some(allow))) {
          try {
            await withClient(db, async (client) => {
              await client.query('BEGIN')
              try {
                await client.query(`SET LOCAL lock_timeout = ${Math.floor(options.lockTimeoutMs ?? 500)}`)
                await client.query(`DROP TABLE ${partition}`)
                await client.query('COMMIT')
              } catch (err) {
                await client.query('ROLLBACK').catch(() => {})
                throw err
              }
            })
            dropped.push(partition)
            options.log?.info({ partition, orgs }, 'retention: partition dropped')
            continue
          } catch (err) {
            // Busy (lock timeout): its rows are deleted in batches below instead, or next pass.
            options.log?.warn({ err, partition }, 'retention: could not drop partition; deleting by rows')
          }
        }
        for (const org of orgs) {
          const cutoff = rawCutoff.get(org)
          if (!cutoff || (range && cutoff <= range.from)) continue
          count('events', await deleteInBatches(db, partition, 'org_id = $1 AND received_at < $2', [org, cutoff], batch))
        }
      }

      for (const [org, cutoff] of rawCutoff) {
        for (const table of ['report_searches', 'report_clicks', 'report_others', 'report_session_actions', 'report_duplicates', 'report_inbox']) {
          count(table, await deleteInBatches(db, table, 'org_id = $1 AND received_at < $2', [org, cutoff], batch))
        }
        count('report_visits', await deleteInBatches(db, 'report_visits', 'org_id = $1 AND last_at < $2', [org, cutoff], batch))
        count('visitors', await deleteInBatches(db, 'visitors', 'org_id = $1 AND last_seen < $2', [org, cutoff], batch))
        // Visit day tiles keep their sums as long as the other tiles; their visitors' hashes are per
        // person and go with the raw data (a day begun before the cutoff loses them whole).
        const hashes = await db.query('UPDATE report_visit_days SET visitors = NULL WHERE org_id = $1 AND day < $2 AND visitors IS NOT NULL', [org, cutoff])
        count('report_visit_days.visitors', hashes.rowCount ?? 0)
        count('quarantined_events', await deleteInBatches(db, 'quarantined_events', 'org_id = $1 AND received_at < $2', [org, cutoff], batch))
      }
      for (const [org, cutoff] of rollupCutoff) {
        count('report_tiles', await deleteInBatches(db, 'report_tiles', 'org_id = $1 AND hour < $2', [org, cutoff], batch))
        count('report_hours', await deleteInBatches(db, 'report_hours', 'org_id = $1 AND hour < $2', [org, cutoff], batch))
        // A day that begins before the cutoff goes whole: its remaining hours answer with their tiles.
        count('report_day_tiles', await deleteInBatches(db, 'report_day_tiles', 'org_id = $1 AND day < $2', [org, cutoff], batch))
        count('report_query_days', await deleteInBatches(db, 'report_query_days', 'org_id = $1 AND day < $2', [org, cutoff], batch))
        count('report_visit_days', await deleteInBatches(db, 'report_visit_days', 'org_id = $1 AND day < $2', [org, cutoff], batch))
        count('report_document_days', await deleteInBatches(db, 'report_document_days', 'org_id = $1 AND day < $2', [org, cutoff], batch))
        count('report_gap_days', await deleteInBatches(db, 'report_gap_days', 'org_id = $1 AND day < $2', [org, cutoff], batch))
        count('report_days', await deleteInBatches(db, 'report_days', 'org_id = $1 AND day < $2', [org, cutoff], batch))
      }
      return true
    } finally {
      const total = Object.values(deleted).reduce((a, b) => a + b, 0)
      await db
        .query('UPDATE retention_state SET last_run_at = $1, last_run_ms = $2, dropped = $3, deleted_rows = $4', [now, Date.now() - started, dropped, total])
        .catch(() => {})
      await lockClient.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]).catch(() => {})
    }
  })
  return { dropped, deleted, ms: Date.now() - started, ran }
}

/** The oldest raw event of each org (an index probe per org and partition). */
export async function oldestEvents(db: pg.Pool): Promise<Map<string, Date>> {
  // Citus (docs/citus.md) cannot correlate a subquery over distributed events with a reference
  // table: there, one aggregate over every shard.
  const { rows } = await db.query<{ org_id: string; oldest: Date | null }>(
    (await isCitus(db))
      ? 'SELECT org_id, min(received_at) AS oldest FROM events GROUP BY org_id'
      : 'SELECT o.org_id, (SELECT min(received_at) FROM events e WHERE e.org_id = o.org_id) AS oldest FROM organizations o',
  )
  return new Map(rows.filter((r) => r.oldest !== null).map((r) => [r.org_id, r.oldest!]))
}
