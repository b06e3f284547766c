import type pg from 'pg'
import { factEvents, factScope, Params } from '../engine.js'
import { ReportError } from '../errors.js'
import type { Scope } from '../params.js'

function requestOf(scope: Scope) {
  return { orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(), filter: scope.filter, bots: scope.bots }
}

export const DOCUMENT_VIEWS = ['top', 'foundLate', 'negativeFeedback'] as const
export type DocumentView = (typeof DOCUMENT_VIEWS)[number]

/**
 * Clicked documents, keyed by coalesce(document_id, document_url), with the latest title, URL and
 * source, the searches they were clicked from and their feedback.
 */
export async function documentRows(
  db: pg.ClientBase, scope: Scope, view: DocumentView, minClicks: number, offset: number, limit: number, document?: string,
): Promise<Array<Record<string, unknown>>> {
  const p = new Params()
  const request = requestOf(scope)
  const events = await factEvents(db, request)
  const clickScope = factScope('clicks', request, p, 'c', events)
  const feedbackScope = factScope('others', request, p, 'o', events)
  const only = document === undefined ? 'true' : `document = ${p.add(document)}`
  const where = view === 'foundLate' ? `"averagePosition" > 3 AND clicks >= ${p.add(minClicks)}` : view === 'negativeFeedback' ? 'negative > 0' : 'true'
  const order = view === 'foundLate' ? 'clicks * ("averagePosition" - 1) DESC' : view === 'negativeFeedback' ? 'negative DESC, clicks DESC' : 'clicks DESC'
  const { rows } = await db.query(
    ...p.query(`WITH c AS (
       SELECT c.document, count(*)::int AS clicks, count(DISTINCT c.search_id)::int AS "searchesLeading",
         round(avg(c.position) FILTER (WHERE c.position >= 1), 6)::float8 AS "averagePosition",
         (array_agg(c.title ORDER BY c.received_at DESC) FILTER (WHERE c.title IS NOT NULL))[1] AS title,
         (array_agg(c.url ORDER BY c.received_at DESC) FILTER (WHERE c.url IS NOT NULL))[1] AS url,
         (array_agg(c.source ORDER BY c.received_at DESC) FILTER (WHERE c.source IS NOT NULL))[1] AS source
       FROM ${events.facts('clicks', p.add, 'c')} WHERE ${clickScope} AND c.document IS NOT NULL GROUP BY c.document
     ),
     fb AS (
       SELECT o.document, count(*) FILTER (WHERE o.score > 0)::int AS positive, count(*) FILTER (WHERE o.score < 0)::int AS negative
       FROM ${events.facts('others', p.add, 'o')} WHERE ${feedbackScope} AND o.document IS NOT NULL AND o.score IS NOT NULL GROUP BY o.document
     ),
     rows AS (
       SELECT coalesce(c.document, fb.document) AS document, c.title, c.url, c.source, coalesce(c.clicks, 0) AS clicks,
         coalesce(c."searchesLeading", 0) AS "searchesLeading", c."averagePosition",
         coalesce(fb.positive, 0) AS positive, coalesce(fb.negative, 0) AS negative,
         round(fb.positive::numeric / nullif(fb.positive + fb.negative, 0), 6)::float8 AS "feedbackPositiveRate"
       FROM c FULL JOIN fb ON fb.document = c.document
     )
     SELECT * FROM rows WHERE ${only} AND ${where} ORDER BY ${order}, document OFFSET ${p.add(offset)} LIMIT ${p.add(limit)}`),
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
