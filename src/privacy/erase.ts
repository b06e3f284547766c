import type pg from 'pg'
import { withClient } from '../store/client.js'
import { dropFromFile, listQuarantine } from '../store/quarantine.js'
import { DERIVE_LOCK } from '../reports/maintenance/facts.js'
import { eventMatches, isEmpty, type Subject } from './subject.js'

/** What an erasure removed, per table (and `quarantine_file` for the quarantine's file). */
export type Removed = Record<string, number>

export interface EraseOptions {
  /** The erasure covers every event received before this time (the service's clock). */
  now: Date
  /** DATA_DIR/quarantine: the quarantine's file is rewritten without the person's events. */
  quarantineDir?: string
  /** How long the barrier below may wait for writes in flight before giving up (ms). */
  lockTimeoutMs?: number
}

/** The monthly partitions of `events` and its default partition, oldest first. */
export async function eventPartitions(db: pg.Pool | pg.ClientBase): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'events'::regclass ORDER BY c.relname`,
  )
  return rows.map((r) => r.name)
}

async function transaction<T>(db: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(db, async (client) => {
    await client.query('BEGIN')
    try {
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
  })
}

/**
 * Record that a person is erased: from now on, every statement that stores events leaves theirs
 * out when they were received before `now` (the writer's ERASED_FILTER), wherever they waited —
 * the outage spool, the writer's queue, a transaction in flight, the quarantine. Idempotent: a
 * second erasure moves the cut-off forward, never back.
 */
export async function recordErasure(db: pg.Pool, subject: Subject, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO privacy_erasures AS p (org_id, subject, erased_before)
     SELECT $1, privacy_subject(kind, value), $4 FROM (
       SELECT 'visitor' AS kind, unnest($2::text[]) AS value UNION ALL SELECT 'user', unnest($3::text[])
     ) s
     ON CONFLICT (org_id, subject) DO UPDATE SET erased_before = greatest(p.erased_before, EXCLUDED.erased_before), recorded_at = now()`,
    [subject.orgId, subject.visitorIds, subject.userNames, now],
  )
}

/**
 * Wait until no transaction that may have stored events without seeing the erasure is still in
 * flight. Every write to `events` holds ROW EXCLUSIVE on it until it commits; SHARE conflicts with
 * it, so taking SHARE (and releasing it at once) waits for exactly those writers. A writer that
 * queues behind this lock takes its snapshot after it is granted, so it sees the erasure and leaves
 * the events out itself. Ingest waits at most as long as the longest batch in flight.
 */
async function waitForWritersInFlight(db: pg.Pool, lockTimeoutMs: number): Promise<void> {
  await transaction(db, async (client) => {
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`)
    await client.query('LOCK TABLE events IN SHARE MODE')
  })
}

/**
 * Erase everything held about a person in an org: their events in every partition, their visitor
 * rows, the idempotency keys and quarantined copies of their events (table and file), and their
 * report facts. Reports then count as if they had never come (docs/privacy.md): the hours their
 * facts were in are rebuilt, and the other events of their visits and the searches their clicks
 * were bound to are derived again. Idempotent: a second call removes nothing more.
 *
 * Each partition is emptied of the person in its own transaction: row locks on their rows only,
 * never a lock that delays ingest beyond the barrier above.
 */
export async function eraseSubject(db: pg.Pool, subject: Subject, options: EraseOptions): Promise<Removed> {
  const removed: Removed = {}
  const add = (table: string, n: number | null) => {
    removed[table] = (removed[table] ?? 0) + (n ?? 0)
  }
  if (isEmpty(subject)) return removed
  await recordErasure(db, subject, options.now)
  await waitForWritersInFlight(db, options.lockTimeoutMs ?? 10_000)

  const { orgId, visitorIds, userNames } = subject
  const eventIds: string[] = []
  const visitIds = new Set<string>()
  for (const partition of await eventPartitions(db)) {
    // Partition names come from the catalogue, never from input.
    const { rows } = await db.query<{ event_id: string; visit_id: string | null }>(
      `DELETE FROM ${partition} WHERE org_id = $1 AND (visitor_id = ANY($2::text[]) OR username = ANY($3::text[]))
       RETURNING event_id::text, visit_id::text`,
      [orgId, visitorIds, userNames],
    )
    add('events', rows.length)
    for (const r of rows) {
      eventIds.push(r.event_id)
      if (r.visit_id) visitIds.add(r.visit_id)
    }
  }

  await transaction(db, async (client) => {
    // Waits for a report maintenance chunk in flight, which may have read the person's events
    // before they were deleted: its facts are then committed, and deleted below.
    await client.query('SELECT pg_advisory_xact_lock($1)', [DERIVE_LOCK])
    const params = [orgId, eventIds, visitorIds]
    add('visitors', (await client.query('DELETE FROM visitors WHERE org_id = $1 AND visitor_id = ANY($2::text[])', [orgId, visitorIds])).rowCount)
    add('idempotency_keys', (await client.query('DELETE FROM idempotency_keys WHERE org_id = $1 AND event_id = ANY($2::uuid[])', [orgId, eventIds])).rowCount)
    add(
      'quarantined_events',
      (
        await client.query(
          `DELETE FROM quarantined_events WHERE org_id = $1
             AND (event->>'visitorId' = ANY($2::text[]) OR event->>'username' = ANY($3::text[]))`,
          [orgId, visitorIds, userNames],
        )
      ).rowCount,
    )
    add('report_inbox', (await client.query('DELETE FROM report_inbox WHERE org_id = $1 AND event_id = ANY($2::uuid[])', [orgId, eventIds])).rowCount)
    add('report_duplicates', (await client.query('DELETE FROM report_duplicates WHERE org_id = $1 AND event_id = ANY($2::uuid[])', [orgId, eventIds])).rowCount)

    // Facts: by event id (a user's events under any visitor) and by visitor id (facts whose event
    // is gone already). The hours they were in are rebuilt; searches their clicks were bound to are
    // derived again (their click counts change).
    await client.query('CREATE TEMP TABLE privacy_gone (received_at timestamptz, visit_id uuid, search_id uuid, search_at timestamptz) ON COMMIT DROP')
    for (const table of ['report_searches', 'report_clicks', 'report_others'] as const) {
      const search = table === 'report_clicks' ? 'search_id, search_at' : table === 'report_others' ? 'search_id, NULL::timestamptz' : 'NULL::uuid, NULL::timestamptz'
      const { rowCount } = await client.query(
        `WITH gone AS (
           DELETE FROM ${table} WHERE org_id = $1 AND (event_id = ANY($2::uuid[]) OR visitor_id = ANY($3::text[]))
           RETURNING received_at, visit_id, ${search}
         )
         INSERT INTO privacy_gone SELECT * FROM gone`,
        params,
      )
      add(table, rowCount)
    }
    const { rows: visits } = await client.query<{ visit_id: string }>(
      `DELETE FROM report_visits WHERE org_id = $1 AND (visit_id = ANY($2::uuid[]) OR visitor_id = ANY($3::text[])
         OR visit_id IN (SELECT visit_id FROM privacy_gone WHERE visit_id IS NOT NULL))
       RETURNING visit_id::text`,
      [orgId, [...visitIds], visitorIds],
    )
    add('report_visits', visits.length)
    for (const v of visits) visitIds.add(v.visit_id)
    // Inbenta session actions hold no visitor: by event id, and by visit (those of the person's
    // visits that are another's events are queued again below with the rest of those visits).
    add(
      'report_session_actions',
      (
        await client.query(
          'DELETE FROM report_session_actions WHERE org_id = $1 AND (event_id = ANY($2::uuid[]) OR visit_id = ANY($3::uuid[]))',
          [orgId, eventIds, [...visitIds]],
        )
      ).rowCount,
    )
    await client.query(
      `INSERT INTO report_hours AS h (org_id, hour, dirty_since)
       SELECT DISTINCT $1::text, date_trunc('hour', received_at), now() FROM privacy_gone
       ON CONFLICT (org_id, hour) DO UPDATE SET dirty_since = coalesce(h.dirty_since, EXCLUDED.dirty_since)`,
      [orgId],
    )
    // Re-derived by the report maintenance: the remaining events of the person's visits (another
    // user of a shared visitor id), and the searches their clicks and feedback were bound to.
    await client.query(
      `INSERT INTO report_inbox (org_id, event_id, received_at)
       SELECT org_id, event_id, received_at FROM report_searches WHERE org_id = $1 AND visit_id = ANY($2::uuid[])
       UNION ALL SELECT org_id, event_id, received_at FROM report_clicks WHERE org_id = $1 AND visit_id = ANY($2::uuid[])
       UNION ALL SELECT org_id, event_id, received_at FROM report_others WHERE org_id = $1 AND visit_id = ANY($2::uuid[])
       UNION ALL SELECT s.org_id, s.event_id, s.received_at FROM report_searches s
         JOIN privacy_gone g ON s.event_id = g.search_id WHERE s.org_id = $1`,
      [orgId, [...visitIds]],
    )
  })

  if (options.quarantineDir) {
    const records = await listQuarantine(db, options.quarantineDir, { orgId, limit: 100_000 })
    const fromFile = new Set(records.filter((r) => r.store === 'file' && eventMatches(subject, r.event)).map((r) => r.eventId))
    if (fromFile.size > 0) await dropFromFile(options.quarantineDir, fromFile)
    add('quarantine_file', fromFile.size)
  }
  return removed
}
