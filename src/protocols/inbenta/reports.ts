import type pg from 'pg'
import { rank } from './priorities.js'

/** A pool, or one of its clients inside a transaction (the reports' read snapshots). */
type Queryable = Pick<pg.ClientBase, 'query'>

export interface SessionAction {
  eventId: string
  at: string
  type: string
  dataKey: string
  logType: string | null
  priority: number
  documentId: string | null
  position: number | null
  searchQueryUid: string | null
  query: string | null
  value: string | null
  data: Record<string, unknown> | null
}

export interface SessionResult {
  dataKey: string
  priority: number
  eventId: string
  at: string
}

export interface SessionReport {
  sessionId: string
  startedAt: string
  lastActionAt: string
  actions: SessionAction[]
  result: SessionResult | null
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The result of a session: its highest-priority action (1 beats 2; 0 never counts), the earliest
 * one on a tie. Priorities are the org's current ones, so changing a priority re-reads history.
 */
export function sessionResult(actions: SessionAction[]): SessionResult | null {
  let best: SessionAction | null = null
  for (const action of actions) {
    if (action.priority <= 0) continue
    if (!best || rank(action.priority) < rank(best.priority)) best = action
  }
  return best ? { dataKey: best.dataKey, priority: best.priority, eventId: best.eventId, at: best.at } : null
}

/**
 * A session (a visit of the session token's visitor) with its session-log actions in order.
 * Event ids order actions only across milliseconds (a UUID v7 minted for a given time has a
 * random sequence), so within one millisecond START is put first and the rest keep id order.
 */
export async function readSession(
  pool: Queryable,
  orgId: string,
  sessionId: string,
  priorities: Map<string, number>,
): Promise<SessionReport | null> {
  if (!UUID.test(sessionId)) return null
  const { rows } = await pool.query(
    `SELECT event_id::text, received_at, type, extra, custom_data, document_id, document_position,
            search_query_uid, query_text, event_value
     FROM events
     WHERE org_id = $1 AND visit_id = $2 AND protocol = 'inbenta' AND extra ? 'dataKey'
     ORDER BY received_at, (extra->>'dataKey' = 'START') DESC, event_id`,
    [orgId, sessionId],
  )
  if (rows.length === 0) return null
  const actions: SessionAction[] = rows.map((r) => ({
    eventId: r.event_id,
    at: (r.received_at as Date).toISOString(),
    type: r.type,
    dataKey: r.extra.dataKey,
    logType: r.extra.logType ?? null,
    priority: priorities.get(r.extra.dataKey) ?? 0,
    documentId: r.document_id,
    position: r.document_position,
    searchQueryUid: r.search_query_uid,
    query: r.query_text,
    value: r.event_value,
    data: r.custom_data,
  }))
  return {
    sessionId,
    startedAt: actions[0]!.at,
    lastActionAt: actions[actions.length - 1]!.at,
    actions,
    result: sessionResult(actions),
  }
}

/**
 * The events that are session actions: Inbenta events of a session (a visit) carrying a data key.
 * Summaries read them from `events`; the report maintenance derives report_session_actions from them.
 */
export const SESSION_ACTION_EVENTS = `protocol = 'inbenta' AND visit_id IS NOT NULL AND extra ? 'dataKey'`

export interface ResultsSummary {
  from: string
  to: string
  sessions: number
  withoutResult: number
  results: Array<{ dataKey: string; priority: number; sessions: number }>
}

/**
 * How sessions ended over a time range: for each data key, the sessions whose result it is (a
 * ticket, a click, a search only…). A session counts with its actions inside the range.
 */
export async function summarizeResults(
  pool: Queryable,
  orgId: string,
  from: Date,
  to: Date,
  priorities: Map<string, number>,
  options: { sessionsWithDataKeyPrefix?: string } = {},
): Promise<ResultsSummary> {
  // Without a prefix the filter is left out of the text rather than made true by a NULL $5: Citus
  // 13.2, reading events over several shards, drops the CTE's result that the pruned subquery
  // would have read and answers no session at all (docs/citus.md).
  const prefix = options.sessionsWithDataKeyPrefix ?? null
  const { rows } = await pool.query<{ data_key: string | null; priority: number | null; sessions: number }>(
    `WITH actions AS (
       SELECT visit_id, received_at, event_id, extra->>'dataKey' AS data_key
       FROM events
       WHERE org_id = $1 AND ${SESSION_ACTION_EVENTS}
         AND received_at >= $2 AND received_at < $3
     ),
     -- Only the sessions holding an action whose data key starts with $5 (contact sessions), when given.
     kept AS (
       ${prefix === null ? 'SELECT * FROM actions' : 'SELECT * FROM actions a WHERE a.visit_id IN (SELECT visit_id FROM actions WHERE starts_with(data_key, $5::text))'}
     ),
     priority AS (
       SELECT key AS data_key, value::int AS priority FROM jsonb_each_text($4::jsonb) WHERE value::int > 0
     ),
     results AS (
       SELECT DISTINCT ON (a.visit_id) a.visit_id, a.data_key, p.priority
       FROM kept a JOIN priority p USING (data_key)
       ORDER BY a.visit_id, p.priority, a.received_at, a.event_id
     )
     SELECT data_key, priority, count(*)::int AS sessions FROM results GROUP BY data_key, priority
     UNION ALL
     SELECT NULL, NULL, count(DISTINCT visit_id)::int FROM kept`,
    [orgId, from, to, JSON.stringify(Object.fromEntries(priorities)), ...(prefix === null ? [] : [prefix])],
  )
  const total = rows.find((r) => r.data_key === null)?.sessions ?? 0
  const results = rows
    .filter((r) => r.data_key !== null)
    .map((r) => ({ dataKey: r.data_key!, priority: r.priority!, sessions: r.sessions }))
    .sort((a, b) => a.priority - b.priority || a.dataKey.localeCompare(b.dataKey))
  const withResult = results.reduce((n, r) => n + r.sessions, 0)
  return { from: from.toISOString(), to: to.toISOString(), sessions: total, withoutResult: total - withResult, results }
}
