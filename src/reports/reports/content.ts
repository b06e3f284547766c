import type pg from 'pg'
import { botsCondition, cleanDays, factEvents, factScope, outsideDaysTime, Params, type FactRequest } from '../engine.js'
import type { EventColumns } from '../event-columns.js'
import { DOCUMENT_FACTS, DOCUMENT_MEASURES, documentExpression } from '../measures.js'
import { ReportError } from '../errors.js'
import type { Scope } from '../params.js'

function requestOf(scope: Scope) {
  return { orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(), filter: scope.filter, bots: scope.bots }
}

export const DOCUMENT_VIEWS = ['top', 'foundLate', 'negativeFeedback'] as const
export type DocumentView = (typeof DOCUMENT_VIEWS)[number]

/**
 * Per-document sums of a scope (`DOCUMENT_MEASURES`): from document day tiles for the clean whole
 * `days`, from facts for the rest of the range (all of it under a filter, `days` empty). Only
 * `document`'s row when given.
 */
function documentSums(p: Params, request: FactRequest, events: EventColumns, days: number[], document: string | undefined): string {
  const only = (alias: string) => (document === undefined ? 'true' : `${alias}.document = ${p.add(document)}`)
  const rest = (alias: string) => (days.length === 0 ? 'true' : outsideDaysTime(p, alias, request.from.getTime(), request.to.getTime(), days))
  const facts = (['clicks', 'others'] as const).map((table) => {
    const where = factScope(table, request, p, 'f', events)
    return `SELECT f.document, ${DOCUMENT_MEASURES.map((m) => `${documentExpression(m, table)} AS ${m.name}`).join(', ')}
      FROM ${events.facts(table, p.add)} WHERE ${where} AND (${rest('f')}) AND ${DOCUMENT_FACTS[table]} AND ${only('f')}`
  })
  const tiles = days.length === 0 ? [] : [`SELECT t.document, ${DOCUMENT_MEASURES.map((m) => `t.${m.name}`).join(', ')} FROM report_document_days t
    WHERE t.org_id = ${p.add(request.orgId)} AND t.day = ANY(${p.add(days.map((d) => new Date(d).toISOString()))}::timestamptz[])
      AND ${botsCondition(request.bots, 't.is_bot')} AND ${only('t')}`]
  return `SELECT x.document, sum(x.clicks)::int AS clicks, round(sum(x.pos_sum)::numeric / nullif(sum(x.pos_count), 0), 6)::float8 AS "averagePosition",
      sum(x.positive)::int AS positive, sum(x.negative)::int AS negative,
      round(sum(x.positive)::numeric / nullif(sum(x.positive) + sum(x.negative), 0), 6)::float8 AS "feedbackPositiveRate"
    FROM (${[...tiles, ...facts].join(' UNION ALL ')}) x GROUP BY x.document`
}

/**
 * Clicked documents, keyed by coalesce(document_id, document_url), with the latest title, URL and
 * source, the searches they were clicked from and their feedback. Ranked by sums (document day
 * tiles for clean whole days when no filter asks for a dimension they do not keep); the searches
 * leading to each and its latest title, URL and source are read from the clicks of the page's
 * documents only.
 */
export async function documentRows(
  db: pg.ClientBase, scope: Scope, view: DocumentView, minClicks: number, offset: number, limit: number, document?: string,
): Promise<Array<Record<string, unknown>>> {
  const p = new Params()
  const request = requestOf(scope)
  const events = await factEvents(db, request)
  const days = scope.filter ? [] : await cleanDays(db, scope.orgId, request.from, request.to)
  const sums = documentSums(p, request, events, days, document)
  const where = view === 'foundLate' ? `"averagePosition" > 3 AND clicks >= ${p.add(minClicks)}` : view === 'negativeFeedback' ? 'negative > 0' : 'true'
  const order = view === 'foundLate' ? 'clicks * ("averagePosition" - 1) DESC' : view === 'negativeFeedback' ? 'negative DESC, clicks DESC' : 'clicks DESC'
  const clickScope = factScope('clicks', request, p, 'c', events)
  // One pass over each page document's clicks (its latest title, URL and source are rarely all
  // on its latest click, and a column no click has would be looked for through all of them).
  const latest = (column: string) => `(array_agg(c.${column} ORDER BY c.received_at DESC, c.event_id DESC) FILTER (WHERE c.${column} IS NOT NULL))[1] AS ${column}`
  const { rows } = await db.query(
    ...p.query(`SELECT page.document, l.title, l.url, l.source, page.clicks, l."searchesLeading",
       page."averagePosition", page.positive, page.negative, page."feedbackPositiveRate"
     FROM (SELECT * FROM (${sums}) s WHERE ${where} ORDER BY ${order}, document OFFSET ${p.add(offset)} LIMIT ${p.add(limit)}) page
     CROSS JOIN LATERAL (SELECT ${latest('title')}, ${latest('url')}, ${latest('source')}, count(DISTINCT c.search_id)::int AS "searchesLeading"
       FROM ${events.facts('clicks', p.add, 'c')} WHERE c.document = page.document AND ${clickScope}) l
     ORDER BY ${order}, document`),
  )
  return rows
}

export async function documentDetail(db: pg.ClientBase, scope: Scope, document: string) {
  const [row] = await documentRows(db, scope, 'top', 1, 0, 1, document)
  const p = new Params()
  const events = await factEvents(db, requestOf(scope))
  const clickScope = factScope('clicks', requestOf(scope), p, 'c', events)
  const clicks = events.facts('clicks', p.add, 'c')
  const doc = p.add(document)
  const leading = await db.query(
    ...p.query(`SELECT c.q AS query, count(*)::int AS clicks, round(avg(c.position) FILTER (WHERE c.position >= 1), 6)::float8 AS "averagePosition"
     FROM ${clicks} WHERE ${clickScope} AND c.document = ${doc} AND c.q IS NOT NULL GROUP BY c.q ORDER BY clicks DESC, c.q LIMIT 50`),
  )
  const positions = await db.query(
    ...p.query(`SELECT c.position, count(*)::int AS clicks FROM ${clicks} WHERE ${clickScope} AND c.document = ${doc} AND c.position >= 1
     GROUP BY c.position ORDER BY c.position LIMIT 100`),
  )
  const series = await db.query(
    ...p.query(`SELECT date_trunc(${p.add(scope.interval)}, c.received_at, ${p.add(scope.tz.pg)}) AS t, count(*)::int AS clicks
     FROM ${clicks} WHERE ${clickScope} AND c.document = ${doc} GROUP BY 1 ORDER BY 1`),
  )
  return {
    document,
    totals: row ?? { document, title: null, url: null, source: null, clicks: 0, searchesLeading: 0, averagePosition: null, positive: 0, negative: 0, feedbackPositiveRate: null },
    series: series.rows.map((r) => ({ t: (r.t as Date).toISOString(), clicks: r.clicks })),
    leadingQueries: leading.rows,
    positions: positions.rows,
  }
}

export const FEEDBACK_GROUPS: Record<string, string> = { query: 'o.q', document: 'o.document', protocol: 'o.protocol', hub: 'o.hub' }

export async function feedbackRows(db: pg.ClientBase, scope: Scope, groupBy: string, offset: number, limit: number) {
  const column = FEEDBACK_GROUPS[groupBy]
  if (!column) throw new ReportError('InvalidParameter', `groupBy is one of ${Object.keys(FEEDBACK_GROUPS).join(', ')}`)
  const p = new Params()
  const events = await factEvents(db, requestOf(scope))
  const where = factScope('others', requestOf(scope), p, 'o', events)
  const { rows } = await db.query(
    ...p.query(`SELECT ${column} AS key, count(*) FILTER (WHERE o.score > 0)::int AS positive, count(*) FILTER (WHERE o.score < 0)::int AS negative,
       count(*) FILTER (WHERE o.score = 0)::int AS neutral,
       round((count(*) FILTER (WHERE o.score > 0))::numeric / nullif(count(*) FILTER (WHERE o.score <> 0), 0), 6)::float8 AS "feedbackPositiveRate"
     FROM ${events.facts('others', p.add, 'o')} WHERE ${where} AND o.score IS NOT NULL
     GROUP BY 1 ORDER BY count(*) DESC, 1 NULLS LAST OFFSET ${p.add(offset)} LIMIT ${p.add(limit)}`),
  )
  return rows
}

export async function feedbackComments(db: pg.ClientBase, scope: Scope) {
  const p = new Params()
  const events = await factEvents(db, requestOf(scope))
  const where = factScope('others', requestOf(scope), p, 'o', events)
  const { rows } = await db.query(
    ...p.query(`SELECT o.received_at AS at, o.q AS query, o.document, o.score, o.comment FROM ${events.facts('others', p.add, 'o')}
     WHERE ${where} AND o.score IS NOT NULL AND o.comment IS NOT NULL
     ORDER BY o.received_at DESC, o.event_id DESC LIMIT 50`),
  )
  return rows.map((r) => ({ ...r, at: (r.at as Date).toISOString() }))
}
