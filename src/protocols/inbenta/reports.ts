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

export interface ResultsSummary {
  from: string
  to: string
  sessions: number
  withoutResult: number
  results: Array<{ dataKey: string; priority: number; sessions: number }>
}

/*
 * What session results are, in SQL, for both readers: the raw events (summarizeResults, the
 * protocol's own routes) and the report facts (summarizeSessionFacts, the deflection report).
 */

/**
 * The events that are session actions: Inbenta events of a session (a visit) carrying a data key.
 * Summaries read them from `events`; the report maintenance derives report_session_actions from them.
 */
export const SESSION_ACTION_EVENTS = `protocol = 'inbenta' AND visit_id IS NOT NULL AND extra ? 'dataKey'`

/** The data keys that count (priority above 0) and their priorities, from a JSON object parameter. */
const prioritiesSql = (param: string) =>
  `SELECT key AS data_key, value::int AS priority FROM jsonb_each_text(${param}::jsonb) WHERE value::int > 0`

/**
 * A session's result among its actions `a` joined with their priority `p`: the first row in this
 * order per session (1 beats 2; the earliest action on a tie, then the lowest event id).
 */
const RESULT_RANK = 'p.priority, a.received_at, a.event_id'
const RESULT_ORDER = `a.visit_id, ${RESULT_RANK}`

const prioritiesParam = (priorities: Map<string, number>) => JSON.stringify(Object.fromEntries(priorities))

/** A summary from sessions counted per result (a NULL data key: the sessions without one). */
function summary(from: Date, to: Date, rows: Array<{ dataKey: string | null; priority: number | null; sessions: number }>): ResultsSummary {
  const results = rows
    .filter((r) => r.dataKey !== null && r.sessions > 0)
    .map((r) => ({ dataKey: r.dataKey!, priority: r.priority!, sessions: r.sessions }))
    .sort((a, b) => a.priority - b.priority || a.dataKey.localeCompare(b.dataKey))
  const total = rows.reduce((n, r) => n + r.sessions, 0)
  const withResult = results.reduce((n, r) => n + r.sessions, 0)
  return { from: from.toISOString(), to: to.toISOString(), sessions: total, withoutResult: total - withResult, results }
}

/**
 * How sessions ended over a time range: for each data key, the sessions whose result it is (a
 * ticket, a click, a search only…). A session counts with its actions inside the range. Read
 * from the raw events, so it includes events stored a moment ago.
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
     priority AS (${prioritiesSql('$4')}),
     results AS (
       SELECT DISTINCT ON (a.visit_id) a.visit_id, a.data_key, p.priority
       FROM kept a JOIN priority p USING (data_key)
       ORDER BY ${RESULT_ORDER}
     )
     SELECT data_key, priority, count(*)::int AS sessions FROM results GROUP BY data_key, priority
     UNION ALL
     SELECT NULL, NULL, count(DISTINCT visit_id)::int FROM kept`,
    [orgId, from, to, prioritiesParam(priorities), ...(prefix === null ? [] : [prefix])],
  )
  // The last row counts every session; the sessions without a result are the rest.
  const total = rows.find((r) => r.data_key === null)?.sessions ?? 0
  const counted = rows.filter((r) => r.data_key !== null).map((r) => ({ dataKey: r.data_key, priority: r.priority, sessions: r.sessions }))
  const withoutResult = total - counted.reduce((n, r) => n + r.sessions, 0)
  return summary(from, to, [...counted, { dataKey: null, priority: null, sessions: withoutResult }])
}

/**
 * The same summaries from the report facts (report_session_actions, derived from exactly the
 * events SESSION_ACTION_EVENTS selects): of every session, and of the sessions holding an action
 * whose data key starts with `sessionsWithDataKeyPrefix`, in one read of the range. A session's
 * result depends only on its actions in the range, so a contact session's result is the one it
 * has among all sessions: each session is ranked once and counted in one summary or both.
 * As current as the report maintenance (an event id stored twice counts once, at its first
 * receipt time, like every fact).
 */
export async function summarizeSessionFacts(
  db: Queryable,
  orgId: string,
  from: Date,
  to: Date,
  priorities: Map<string, number>,
  sessionsWithDataKeyPrefix: string,
): Promise<{ all: ResultsSummary; matching: ResultsSummary }> {
  // Every action of a session, prioritized or not, in one ordered pass: the window sorts the
  // rows in the result's order, which the DISTINCT ON then reads as it is. A session without a
  // prioritized action sorts its NULL priorities last and keeps no result.
  const { rows } = await db.query<{ data_key: string | null; priority: number | null; sessions: number; matching: number }>(
    `WITH priority AS (${prioritiesSql('$4')}),
     sessions AS (
       SELECT DISTINCT ON (a.visit_id) a.visit_id, CASE WHEN p.priority IS NOT NULL THEN a.data_key END AS data_key, p.priority,
         bool_or(starts_with(a.data_key, $5::text)) OVER (PARTITION BY a.visit_id ORDER BY ${RESULT_RANK}
           ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS matching
       FROM report_session_actions a LEFT JOIN priority p ON p.data_key = a.data_key
       WHERE a.org_id = $1 AND a.received_at >= $2 AND a.received_at < $3
       ORDER BY ${RESULT_ORDER}
     )
     SELECT data_key, priority, count(*)::int AS sessions, count(*) FILTER (WHERE matching)::int AS matching
     FROM sessions GROUP BY data_key, priority`,
    [orgId, from, to, prioritiesParam(priorities), sessionsWithDataKeyPrefix],
  )
  return {
    all: summary(from, to, rows.map((r) => ({ dataKey: r.data_key, priority: r.priority, sessions: r.sessions }))),
    matching: summary(from, to, rows.map((r) => ({ dataKey: r.data_key, priority: r.priority, sessions: r.matching }))),
  }
}
