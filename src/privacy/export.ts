import type pg from 'pg'
import { listQuarantine } from '../store/quarantine.js'
import { eventPartitions } from './erase.js'
import { eventMatches, isEmpty, type Subject } from './subject.js'

const PAGE = 1000

interface ExportedEvent {
  row: Record<string, unknown>
  received_at: Date
  event_id: string
}

/**
 * Everything held about a person, one JSON object per line: `{"table": …, "row": {…}}`, events
 * first (partition by partition, in pages, so memory stays flat whatever their number), then their
 * visitor rows, idempotency keys, quarantined events (table and file) and report facts. Ends with
 * a `{"summary": {table: count}}` line.
 */
export async function* exportSubject(db: pg.Pool, subject: Subject, options: { quarantineDir?: string } = {}): AsyncGenerator<string> {
  const counts: Record<string, number> = {}
  const line = (table: string, row: unknown) => {
    counts[table] = (counts[table] ?? 0) + 1
    return JSON.stringify({ table, row }) + '\n'
  }
  if (isEmpty(subject)) {
    yield JSON.stringify({ summary: counts }) + '\n'
    return
  }
  const { orgId, visitorIds, userNames } = subject
  const eventIds: string[] = []
  for (const partition of await eventPartitions(db)) {
    let after: [Date, string] | null = null
    for (;;) {
      // Keyset pages over (received_at, event_id); partition names come from the catalogue.
      const result: pg.QueryResult<ExportedEvent> = await db.query<ExportedEvent>(
        `SELECT to_jsonb(e) AS row, received_at, event_id::text FROM ${partition} e
         WHERE org_id = $1 AND (visitor_id = ANY($2::text[]) OR username = ANY($3::text[]))
           AND ($4::timestamptz IS NULL OR (received_at, event_id) > ($4, $5::uuid))
         ORDER BY received_at, event_id LIMIT ${PAGE}`,
        [orgId, visitorIds, userNames, after?.[0] ?? null, after?.[1] ?? null],
      )
      const rows: ExportedEvent[] = result.rows
      for (const r of rows) {
        eventIds.push(r.event_id)
        yield line('events', r.row)
      }
      if (rows.length < PAGE) break
      const last: ExportedEvent = rows[rows.length - 1]!
      after = [last.received_at, last.event_id]
    }
  }
  const queries: Array<[string, string, unknown[]]> = [
    ['visitors', 'SELECT to_jsonb(t) AS row FROM visitors t WHERE org_id = $1 AND visitor_id = ANY($2::text[])', [orgId, visitorIds]],
    ['idempotency_keys', 'SELECT to_jsonb(t) AS row FROM idempotency_keys t WHERE org_id = $1 AND event_id = ANY($2::uuid[])', [orgId, eventIds]],
    [
      'quarantined_events',
      `SELECT to_jsonb(t) AS row FROM quarantined_events t WHERE org_id = $1
         AND (event->>'visitorId' = ANY($2::text[]) OR event->>'username' = ANY($3::text[]))`,
      [orgId, visitorIds, userNames],
    ],
    ...(['report_searches', 'report_clicks', 'report_others'] as const).map((table): [string, string, unknown[]] => [
      table,
      `SELECT to_jsonb(t) AS row FROM ${table} t WHERE org_id = $1 AND (event_id = ANY($2::uuid[]) OR visitor_id = ANY($3::text[]))`,
      [orgId, eventIds, visitorIds],
    ]),
    [
      'report_session_actions',
      'SELECT to_jsonb(t) AS row FROM report_session_actions t WHERE org_id = $1 AND event_id = ANY($2::uuid[])',
      [orgId, eventIds],
    ],
    [
      'report_visits',
      `SELECT to_jsonb(t) AS row FROM report_visits t WHERE org_id = $1 AND (visitor_id = ANY($2::text[])
         OR visit_id IN (SELECT visit_id FROM report_searches WHERE org_id = $1 AND event_id = ANY($3::uuid[])
                         UNION SELECT visit_id FROM report_others WHERE org_id = $1 AND event_id = ANY($3::uuid[])))`,
      [orgId, visitorIds, eventIds],
    ],
  ]
  for (const [table, sql, params] of queries) {
    const { rows } = await db.query<{ row: unknown }>(sql, params)
    for (const r of rows) yield line(table, r.row)
  }
  if (options.quarantineDir) {
    for (const record of await listQuarantine(db, options.quarantineDir, { orgId, limit: 100_000 })) {
      if (record.store === 'file' && eventMatches(subject, record.event)) yield line('quarantine_file', record)
    }
  }
  yield JSON.stringify({ summary: counts }) + '\n'
}
