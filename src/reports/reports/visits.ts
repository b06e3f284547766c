import type pg from 'pg'
import { dimension } from '../dimensions.js'
import { dimensionColumn, filterDimensionsOf, Params } from '../engine.js'
import { eventColumns, type EventColumns } from '../event-columns.js'
import { ReportError } from '../errors.js'
import { compileFilter, type FilterNode } from '../filter.js'
import type { FactTable } from '../measures.js'
import type { Scope } from '../params.js'
import { readSession, sessionResult, summarizeSessionFacts } from '../../protocols/inbenta/reports.js'
import { isCitus } from '../../store/citus.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TABLES: FactTable[] = ['searches', 'clicks', 'others']

function matchingVisits(p: Params, scope: Scope, filter: FilterNode, events: EventColumns): string {
  return TABLES.map((table) => {
    const column = (name: string) => dimensionColumn(dimension(name, scope.tz.pg), table, events)
    return `SELECT f.visit_id FROM ${events.facts(table, p.add)} WHERE f.org_id = ${p.add(scope.orgId)}
      AND f.received_at >= ${p.add(scope.period.from.toISO())} AND f.received_at < ${p.add(scope.period.to.toISO())}
      AND f.visit_id IS NOT NULL AND ${compileFilter(filter, column, p.add)}`
  }).join(' UNION ')
}

export const VISIT_ORDERS: Record<string, string> = { start: 'v.first_at', events: 'v.events', searches: 'v.searches' }

/** Visits with an event in range; `f` keeps visits holding a match, `fn` drops them. */
export async function visitRows(
  db: pg.ClientBase, scope: Scope, exclude: FilterNode | null, orderBy: string, direction: 'asc' | 'desc',
  offset: number, limit: number, priorities: Map<string, number>,
) {
  const order = VISIT_ORDERS[orderBy]
  if (!order) throw new ReportError('InvalidParameter', 'orderBy is start, events or searches')
  const p = new Params()
  const conditions = [
    `v.org_id = ${p.add(scope.orgId)}`, `v.first_at < ${p.add(scope.period.to.toISO())}`, `v.last_at >= ${p.add(scope.period.from.toISO())}`,
    scope.bots === 'exclude' ? 'NOT v.is_bot' : scope.bots === 'only' ? 'v.is_bot' : 'true',
  ]
  const range = { orgId: scope.orgId, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate() }
  if (scope.filter) conditions.push(`v.visit_id IN (${matchingVisits(p, scope, scope.filter, await eventColumns(db, range, filterDimensionsOf(scope.filter, scope.tz.pg)))})`)
  if (exclude) conditions.push(`v.visit_id NOT IN (${matchingVisits(p, scope, exclude, await eventColumns(db, range, filterDimensionsOf(exclude, scope.tz.pg)))})`)
  // Citus (docs/citus.md) cannot join the coordinator's report_visits with distributed events:
  // there, each visit's first event is read by its keys in a second query.
  const citus = await isCitus(db)
  const { rows } = await db.query(
    `SELECT v.visit_id::text AS "visitId", v.visitor_id AS visitor, ${citus ? 'NULL::text' : 'CASE WHEN e.anonymous THEN NULL ELSE e.username END'} AS "user",
       v.first_at AS start, v.last_at AS "end", v.events, v.searches, v.clicks, v.first_query AS "firstQuery", v.hubs, v.ticket
       ${citus ? ', v.first_event_id::text AS first_event_id' : ''}
     FROM report_visits v
     ${citus ? '' : 'LEFT JOIN events e ON e.org_id = v.org_id AND e.event_id = v.first_event_id AND e.received_at = v.first_at'}
     WHERE ${conditions.join(' AND ')}
     ORDER BY ${order} ${direction.toUpperCase()}, v.visit_id OFFSET ${p.add(offset)} LIMIT ${p.add(limit)}`,
    p.values,
  )
  if (citus && rows.length > 0) {
    const { rows: users } = await db.query(
      `SELECT e.event_id::text, e.received_at, CASE WHEN e.anonymous THEN NULL ELSE e.username END AS "user" FROM events e
       WHERE e.org_id = $1 AND (e.event_id, e.received_at) IN (SELECT * FROM unnest($2::uuid[], $3::timestamptz[]))`,
      [scope.orgId, rows.map((r) => r.first_event_id), rows.map((r) => r.start)],
    )
    const user = new Map(users.map((u) => [`${u.event_id}/${(u.received_at as Date).getTime()}`, u.user]))
    for (const r of rows) {
      r.user = user.get(`${r.first_event_id}/${(r.start as Date).getTime()}`) ?? null
      delete r.first_event_id
    }
  }
  const results = await sessionResults(db, scope.orgId, rows.map((r) => r.visitId as string), priorities)
  return rows.map((r) => ({
    ...r, start: (r.start as Date).toISOString(), end: (r.end as Date).toISOString(), result: results.get(r.visitId) ?? null,
  }))
}

/** The result of each Inbenta session among `visits` (its highest-priority action), by the org's current priorities. */
async function sessionResults(db: pg.ClientBase, orgId: string, visits: string[], priorities: Map<string, number>) {
  if (visits.length === 0) return new Map<string, { dataKey: string; priority: number }>()
  const { rows } = await db.query(
    `SELECT DISTINCT ON (visit_id) visit_id::text, extra->>'dataKey' AS data_key, p.priority
     FROM events JOIN (SELECT key, value::int AS priority FROM jsonb_each_text($3::jsonb) WHERE value::int > 0) p ON p.key = extra->>'dataKey'
     WHERE org_id = $1 AND visit_id = ANY($2::uuid[]) AND protocol = 'inbenta' AND extra ? 'dataKey'
     ORDER BY visit_id, p.priority, received_at, event_id`,
    [orgId, visits, JSON.stringify(Object.fromEntries(priorities))],
  )
  return new Map(rows.map((r) => [r.visit_id as string, { dataKey: r.data_key as string, priority: r.priority as number }]))
}

const TIMELINE_MAX = 2000

/** One visit's events in order (bots shown), with the search facts and bindings reports use. */
export async function visitTimeline(db: pg.ClientBase, orgId: string, visitId: string, priorities: Map<string, number>) {
  if (!UUID.test(visitId)) return null
  const { rows: visits } = await db.query('SELECT * FROM report_visits WHERE org_id = $1 AND visit_id = $2', [orgId, visitId])
  const visit = visits[0]
  if (!visit) return null
  const { rows } = await db.query(
    `SELECT e.event_id::text, e.received_at, e.type, e.protocol, e.query_text, e.action_cause, e.event_type, e.event_value,
       e.extra->>'dataKey' AS data_key, e.origin_level1, e.document_position, coalesce(e.document_id, e.document_url) AS document,
       s.cause_class, s.partial, s.is_user, s.q, s.nr, c.search_id::text AS bound_to, o.score
     FROM report_visit_events($1, $2::uuid) x
     JOIN events e ON e.org_id = $1 AND e.event_id = x.event_id AND e.received_at = x.received_at
     LEFT JOIN report_searches s ON s.org_id = $1 AND s.event_id = e.event_id AND x.kind = 'search'
     LEFT JOIN report_clicks c ON c.org_id = $1 AND c.event_id = e.event_id AND x.kind = 'click'
     LEFT JOIN report_others o ON o.org_id = $1 AND o.event_id = e.event_id AND x.kind NOT IN ('search', 'click')
     ORDER BY e.received_at, (e.extra->>'dataKey' = 'START') DESC NULLS LAST, e.event_id
     LIMIT ${TIMELINE_MAX + 1}`,
    [orgId, visitId],
  )
  const session = rows.some((r) => r.protocol === 'inbenta' && r.data_key) ? await readSessionResult(db, orgId, visitId, priorities) : null
  return {
    visitId,
    visitor: visit.visitor_id,
    isBot: visit.is_bot,
    start: (visit.first_at as Date).toISOString(),
    end: (visit.last_at as Date).toISOString(),
    sessionResult: session,
    events: rows.slice(0, TIMELINE_MAX).map((r) => {
      const base = { eventId: r.event_id, at: (r.received_at as Date).toISOString(), type: r.type, protocol: r.protocol, hub: r.origin_level1, dataKey: r.data_key }
      if (r.type === 'search') {
        return { ...base, causeClass: r.cause_class, cause: r.action_cause, partial: r.partial, userSearch: r.is_user, query: r.query_text, numberOfResults: r.nr }
      }
      if (r.type === 'click') return { ...base, boundTo: r.bound_to, position: r.document_position, document: r.document }
      return { ...base, eventType: r.event_type, eventValue: r.event_value, document: r.document, feedback: r.score }
    }),
    truncated: rows.length > TIMELINE_MAX,
  }
}

async function readSessionResult(db: pg.ClientBase, orgId: string, visitId: string, priorities: Map<string, number>) {
  const session = await readSession(db, orgId, visitId, priorities)
  const result = session ? sessionResult(session.actions) : null
  return result ? { dataKey: result.dataKey, priority: result.priority } : null
}

/** Deflection: visit-level self service and support, Inbenta session results, what ticket visits clicked. */
export async function deflection(
  db: pg.ClientBase, scope: Scope, visitSums: { withSearch: number; withUserSearch: number; selfService: number; support: number; ticket: number },
  costPerTicket: number | null, priorities: Map<string, number>,
) {
  const from = scope.period.from.toJSDate()
  const to = scope.period.to.toJSDate()
  // Inbenta session results from their facts, of every session and of those that contacted support.
  const { all, matching: contact } = await summarizeSessionFacts(db, scope.orgId, from, to, priorities, 'CONTACT_')
  const ticketSessions = contact.results.filter((r) => r.dataKey === 'CONTACT_TICKET').reduce((n, r) => n + r.sessions, 0)
  const p = new Params()
  const { rows: clicked } = await db.query(
    `SELECT c.document, count(*)::int AS clicks FROM report_clicks c
     JOIN report_visits v ON v.org_id = c.org_id AND v.visit_id = c.visit_id AND v.ticket
     WHERE c.org_id = ${p.add(scope.orgId)} AND c.received_at >= ${p.add(from.toISOString())} AND c.received_at < ${p.add(to.toISOString())}
       AND c.document IS NOT NULL AND ${scope.bots === 'exclude' ? 'NOT c.is_bot' : scope.bots === 'only' ? 'c.is_bot' : 'true'}
     GROUP BY c.document ORDER BY clicks DESC, c.document LIMIT 50`,
    p.values,
  )
  const deflected = visitSums.support - visitSums.ticket
  return {
    visitsWithSearch: visitSums.withSearch,
    selfServiceRate: visitSums.withUserSearch > 0 ? Math.round((visitSums.selfService / visitSums.withUserSearch) * 1e6) / 1e6 : null,
    supportVisits: visitSums.support,
    ticketVisits: visitSums.ticket,
    deflectionRate: visitSums.support > 0 ? Math.round((deflected / visitSums.support) * 1e6) / 1e6 : null,
    estimatedSavings: costPerTicket === null ? null : deflected * costPerTicket,
    sessions: {
      total: all.sessions,
      contact: contact.sessions,
      sessionDeflectionRate: contact.sessions > 0 ? Math.round(((contact.sessions - ticketSessions) / contact.sessions) * 1e6) / 1e6 : null,
      withoutResult: all.withoutResult,
      results: all.results,
    },
    clickedInTicketVisits: clicked,
  }
}
