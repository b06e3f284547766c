import type pg from 'pg'
import { DateTime } from 'luxon'
import { bucketStarts, first, isoInZone, positiveInt, type Period, type Query, type Scope } from '../params.js'
import { botsCondition, cleanDays, factEvents, factScope, outsideDaysTime, Params, type FactRequest } from '../engine.js'
import { gapFacts, QUERY_MEASURES, queryExpression, querySum, type QueryMeasure } from '../measures.js'
import { ReportError } from '../errors.js'
import { evaluate, metricValue } from './series.js'
import { metric } from '../metrics.js'
import { round } from '../stats.js'

/** Wilson lower bound (z = 1.96) of k of n, in SQL. */
const wilsonLow = (k: string, n: string) => `CASE WHEN ${n} > 0 THEN
  ((${k}::float8 / ${n}) + 1.9208 / ${n} - 1.96 * sqrt((${k}::float8 / ${n}) * (1 - ${k}::float8 / ${n}) / ${n} + 0.9604 / (${n}::float8 * ${n})))
  / (1 + 3.8416 / ${n}) ELSE 0 END`

const ratioSql = (k: string, n: string) => `round((${k})::numeric / nullif(${n}, 0), 6)::float8`

/** Per-query measures given by searches, and those given by clicks (their search's query). */
const SEARCH_MEASURES = QUERY_MEASURES.filter((m) => m.clicks === '0')
const CLICK_MEASURES = QUERY_MEASURES.filter((m) => m.clicks !== '0')
if (CLICK_MEASURES.some((m) => m.searches !== '0')) throw new Error('a per-query measure is given by searches or by clicks, not both')

/** The average result count of the user searches, from the sums of `u_nr_sum` and `u_nr_known`. */
const avgResults = (nrSum: string, nrKnown: string) => `round((${nrSum})::numeric / nullif(${nrKnown}, 0), 6)::float8`

/** Queries kept in a list: not empty unless asked for, containing `contains` when given. */
function queriesOf(p: Params, alias: string, includeEmpty: boolean, contains: string | undefined): string {
  return `${includeEmpty ? 'true' : `${alias}.q <> ''`} AND ${contains === undefined ? 'true' : `strpos(${alias}.q, report_normalize_query(${p.add(contains)})) > 0`}`
}

/**
 * Per-query sums of a period from facts alone (`QUERY_MEASURES`, as query day tiles hold them),
 * with each query's visitors and display form: for lists under a filter, or ordered by those two.
 */
async function perQuery(db: pg.ClientBase, p: Params, scope: Scope, period: Period, includeEmpty: boolean, contains: string | undefined): Promise<string> {
  const request: FactRequest = { orgId: scope.orgId, tz: scope.tz, from: period.from.toJSDate(), to: period.to.toJSDate(), filter: scope.filter, bots: scope.bots }
  const events = await factEvents(db, request)
  const sum = (m: QueryMeasure, table: 'searches' | 'clicks') => querySum(m, queryExpression(m, table))
  const nr = (name: string) => sum(QUERY_MEASURES.find((m) => m.name === name)!, 'searches')
  return `
  SELECT s.*, ${CLICK_MEASURES.map((m) => `coalesce(c.${m.name}, 0) AS ${m.name}`).join(', ')} FROM (
    SELECT f.q, ${SEARCH_MEASURES.map((m) => `${sum(m, 'searches')} AS ${m.name}`).join(', ')},
      ${avgResults(nr('u_nr_sum'), nr('u_nr_known'))} AS avg_results,
      count(DISTINCT f.visitor_id COLLATE "C") FILTER (WHERE NOT f.partial)::int AS visitors,
      mode() WITHIN GROUP (ORDER BY f.display) FILTER (WHERE NOT f.partial) AS display
    FROM ${events.facts('searches', p.add)}
    WHERE ${factScope('searches', request, p, 'f', events)} AND ${queriesOf(p, 'f', includeEmpty, contains)}
    GROUP BY f.q
    HAVING count(*) FILTER (WHERE NOT f.partial) > 0
  ) s LEFT JOIN (
    SELECT c.q, ${CLICK_MEASURES.map((m) => `${sum(m, 'clicks')} AS ${m.name}`).join(', ')}
    FROM ${events.facts('clicks', p.add, 'c')} WHERE ${factScope('clicks', request, p, 'c', events)} AND c.q IS NOT NULL AND ${queriesOf(p, 'c', includeEmpty, contains)}
    GROUP BY c.q
  ) c ON c.q = s.q`
}

/**
 * The same per-query sums from query day tiles for the period's clean whole days and from facts
 * for the rest, without visitors and the display form, which are not sums: the page's rows read
 * those from facts (`pageFromTiles`).
 */
function perQueryFromTiles(p: Params, scope: Scope, period: Period, days: number[], includeEmpty: boolean, contains: string | undefined): string {
  const org = p.add(scope.orgId)
  const queries = (alias: string) => queriesOf(p, alias, includeEmpty, contains)
  const time = (alias: string) => outsideDaysTime(p, alias, period.from.toMillis(), period.to.toMillis(), days)
  const tiles = `SELECT t.q, ${QUERY_MEASURES.map((m) => `t.${m.name}`).join(', ')} FROM report_query_days t
    WHERE t.org_id = ${org} AND t.day = ANY(${p.add(days.map((d) => new Date(d).toISOString()))}::timestamptz[])
      AND ${botsCondition(scope.bots, 't.is_bot')} AND ${queries('t')}`
  const searches = `SELECT f.q, ${QUERY_MEASURES.map((m) => `${queryExpression(m, 'searches')} AS ${m.name}`).join(', ')} FROM report_searches f
    WHERE f.org_id = ${org} AND (${time('f')}) AND ${botsCondition(scope.bots, 'f.is_bot')} AND ${queries('f')}`
  const clicks = `SELECT c.q, ${QUERY_MEASURES.map((m) => `${queryExpression(m, 'clicks')} AS ${m.name}`).join(', ')} FROM report_clicks c
    WHERE c.org_id = ${org} AND (${time('c')}) AND ${botsCondition(scope.bots, 'c.is_bot')} AND c.q IS NOT NULL AND ${queries('c')}`
  return `
  SELECT x.q, ${QUERY_MEASURES.map((m) => `${querySum(m, `x.${m.name}`)} AS ${m.name}`).join(', ')},
    ${avgResults('sum(x.u_nr_sum)', 'sum(x.u_nr_known)')} AS avg_results
  FROM (${tiles} UNION ALL ${searches} UNION ALL ${clicks}) x
  GROUP BY x.q HAVING sum(x.searches) > 0`
}

/** Row fields and how each is computed from the per-query sums `s` (and `prev` for trending). */
const FIELDS: Record<string, string> = {
  query: 's.q',
  display: 's.display',
  searchEvents: 's.search_events',
  searches: 's.searches',
  userSearches: 's.user_searches',
  refinementSearches: 's.refinement_searches',
  searchesWithClick: 's.t_clicked',
  ctr: ratioSql('s.t_clicked', 's.t_searches'),
  clicks: 's.t_clicks',
  clicksPerSearch: ratioSql('s.t_clicks', 's.t_searches'),
  averageClickRank: ratioSql('s.pos_sum', 's.pos_count'),
  meanReciprocalRank: ratioSql('s.t_rr', 's.t_searches'),
  noResultSearches: 's.u_no_results',
  noResultRate: ratioSql('s.u_no_results', 's.u_nr_known'),
  clickedUserSearches: 's.u_clicked_chain',
  userSearchCtr: ratioSql('s.u_clicked_chain', 's.user_searches'),
  abandonmentRate: ratioSql('s.uv_abandoned', 's.uv'),
  reformulationRate: ratioSql('s.uv_reformulated', 's.uv'),
  averageResponseTime: ratioSql('s.rt_sum', 's.rt_count'),
  avgResults: 's.avg_results',
  visitors: 's.visitors',
  opportunity: `round((s.user_searches * (1 - ${wilsonLow('s.u_clicked_chain', 's.user_searches')}))::numeric, 6)::float8`,
}

export const QUERY_VIEWS = ['top', 'noResults', 'noClicks', 'lowCtr', 'trending'] as const
export type QueryView = (typeof QUERY_VIEWS)[number]

export interface QueryListRequest {
  view: QueryView
  orderBy: string
  direction: 'asc' | 'desc'
  includeEmpty: boolean
  contains?: string
  minSearches: number
}

export function parseQueryList(query: Query): QueryListRequest {
  const view = (first(query, 'view') ?? 'top') as QueryView
  if (!QUERY_VIEWS.includes(view)) throw new ReportError('InvalidParameter', `view is one of ${QUERY_VIEWS.join(', ')}`)
  const defaults: Record<QueryView, [string, 'asc' | 'desc']> = {
    top: ['userSearches', 'desc'],
    noResults: ['noResultSearches', 'desc'],
    noClicks: ['searches', 'desc'],
    lowCtr: ['ctr', 'asc'],
    trending: ['trendScore', 'desc'],
  }
  const orderBy = first(query, 'orderBy') ?? defaults[view][0]
  if (!(orderBy in FIELDS) && orderBy !== 'trendScore' && orderBy !== 'previousUserSearches') {
    throw new ReportError('InvalidParameter', `orderBy must be a row field: ${[...Object.keys(FIELDS), 'trendScore'].join(', ')}`)
  }
  const direction = (first(query, 'direction') ?? defaults[view][1]) as 'asc' | 'desc'
  if (direction !== 'asc' && direction !== 'desc') throw new ReportError('InvalidParameter', 'direction is asc or desc')
  return {
    view, orderBy, direction, includeEmpty: first(query, 'includeEmpty') === 'true', contains: first(query, 'queryContains'),
    minSearches: positiveInt(query, 'minSearches', view === 'lowCtr' ? 20 : 1, 1_000_000),
  }
}

/** One page of query rows, ordered, ties by query. */
export async function queryRows(db: pg.ClientBase, scope: Scope, list: QueryListRequest, offset: number, limit: number): Promise<Array<Record<string, unknown>>> {
  const p = new Params()
  const trending = list.view === 'trending' || list.orderBy === 'trendScore'
  const compare = scope.compare
  if (trending && !compare) throw new ReportError('InvalidParameter', 'trending compares with a period: compare=previous (the default) or year')
  // Query day tiles answer when no filter asks for a dimension they do not keep and the order is
  // by a sum; visitors and the display form are then read for the page's rows only.
  const tileable = !scope.filter && list.orderBy !== 'visitors' && list.orderBy !== 'display'
  const days = tileable ? await cleanDays(db, scope.orgId, scope.period.from.toJSDate(), scope.period.to.toJSDate()) : []
  const previousDays = tileable && trending ? await cleanDays(db, scope.orgId, compare!.from.toJSDate(), compare!.to.toJSDate()) : []
  const fromTiles = days.length + previousDays.length > 0
  const current = fromTiles
    ? perQueryFromTiles(p, scope, scope.period, days, list.includeEmpty, list.contains)
    : await perQuery(db, p, scope, scope.period, list.includeEmpty, list.contains)
  const previous = !trending ? null : fromTiles
    ? perQueryFromTiles(p, scope, compare!, previousDays, list.includeEmpty, list.contains)
    : await perQuery(db, p, scope, compare!, list.includeEmpty, list.contains)
  const fields = Object.entries(FIELDS)
    .filter(([name]) => !fromTiles || (name !== 'visitors' && name !== 'display'))
    .map(([name, sql]) => `${sql} AS "${name}"`)
  if (trending) {
    fields.push(`coalesce(prev.user_searches, 0) AS "previousUserSearches"`)
    fields.push(`CASE WHEN coalesce(s.user_searches, 0) + coalesce(prev.user_searches, 0) = 0 THEN 0
      ELSE round(((coalesce(s.user_searches, 0) - coalesce(prev.user_searches, 0)) / sqrt(coalesce(s.user_searches, 0) + coalesce(prev.user_searches, 0)))::numeric, 6)::float8 END AS "trendScore"`)
  }
  const where: string[] = []
  switch (list.view) {
    case 'noResults':
      where.push('s.u_no_results >= 1')
      break
    case 'noClicks':
      where.push('s.t_searches >= 1 AND s.t_clicks = 0')
      break
    case 'lowCtr':
      where.push(`s.user_searches >= ${p.add(list.minSearches)}`)
      break
    case 'trending':
      where.push('(coalesce(s.user_searches, 0) >= 10 OR coalesce(prev.user_searches, 0) >= 10)')
      break
    case 'top':
      if (list.minSearches > 1) where.push(`s.user_searches >= ${p.add(list.minSearches)}`)
  }
  const from = trending
    ? `(${current}) s0 FULL JOIN (${previous}) prev ON prev.q = s0.q CROSS JOIN LATERAL (SELECT coalesce(s0.q, prev.q) AS q,
        ${fromTiles ? '' : 'coalesce(s0.display, prev.display) AS display,'}
        ${['search_events', 'searches', 'user_searches', 'refinement_searches', 't_searches', 't_clicked', 't_clicks', 't_rr', 'u_nr_known', 'u_no_results',
          'u_clicked_chain', 'uv', 'uv_abandoned', 'uv_reformulated', 'rt_sum', 'rt_count', 'pos_sum', 'pos_count', ...(fromTiles ? [] : ['visitors'])]
          .map((c) => `coalesce(s0.${c}, 0) AS ${c}`).join(', ')},
        s0.avg_results) s`
    : `(${current}) s`
  const order = `"${list.orderBy}" ${list.direction.toUpperCase()} NULLS LAST, "query" ASC`
  let sql = `SELECT ${fields.join(', ')} FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${order} OFFSET ${p.add(offset)} LIMIT ${p.add(limit)}`
  if (fromTiles) sql = pageFromTiles(p, scope, trending ? compare : null, sql, order)
  const { rows } = await db.query(sql, p.values)
  return rows
}

/**
 * A page of query rows ranked from sums, with each row's visitors and display form read from its
 * query's facts (the display form from the compared period for a query only found there).
 */
function pageFromTiles(p: Params, scope: Scope, compare: Period | null, page: string, order: string): string {
  const request = (period: Period) => ({ orgId: scope.orgId, tz: scope.tz, from: period.from.toJSDate(), to: period.to.toJSDate(), filter: null, bots: scope.bots })
  const previousDisplay = compare
    ? `(SELECT mode() WITHIN GROUP (ORDER BY f.display) FROM report_searches f WHERE f.q = page."query" AND NOT f.partial AND ${factScope('searches', request(compare), p)})`
    : 'NULL'
  const names = [...Object.keys(FIELDS), ...(compare ? ['previousUserSearches', 'trendScore'] : [])]
  const columns = names.map((name) =>
    name === 'visitors' ? 'v.visitors AS "visitors"' : name === 'display' ? `coalesce(v.display, ${previousDisplay}) AS "display"` : `page."${name}"`)
  return `SELECT ${columns.join(', ')} FROM (${page}) page
    CROSS JOIN LATERAL (SELECT count(DISTINCT f.visitor_id COLLATE "C")::int AS visitors, mode() WITHIN GROUP (ORDER BY f.display) AS display
      FROM report_searches f WHERE f.q = page."query" AND NOT f.partial AND ${factScope('searches', request(scope.period), p)}) v
    ORDER BY ${order}`
}

/** Everything about one normalized query (`query=` is normalized as stored queries are). */
export async function queryDetail(db: pg.ClientBase, scope: Scope, rawQuery: string, supportConfigured: boolean) {
  const p = new Params()
  const { rows: norm } = await db.query<{ q: string }>('SELECT report_normalize_query($1) AS q', [rawQuery])
  const q = norm[0]!.q
  const request = { orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(), filter: scope.filter, bots: scope.bots }
  const withQuery = { ...scope, filter: scope.filter ? { kind: 'and' as const, children: [scope.filter, cond(q)] } : cond(q) }
  const names = ['searchEvents', 'searches', 'userSearches', 'searchesWithClick', 'ctr', 'clicksPerSearch', 'averageClickRank', 'meanReciprocalRank',
    'noResultSearches', 'noResultRate', 'clickedUserSearches', 'userSearchCtr', 'abandonmentRate', 'reformulationRate', 'timeToFirstClick', 'averageResponseTime']
  const metrics = names.map(metric)
  const starts = bucketStarts(scope.period, scope.interval)
  const series = await evaluate(db, withQuery, metrics, scope.period, starts)
  const totals = series.reduce((acc, e) => ({ sums: addAll(acc.sums, e.sums), visits: null, protocols: [...new Set([...acc.protocols, ...e.protocols])] }), { sums: {} as Record<string, number>, visits: null, protocols: [] as string[] })
  const qp = p.add(q)
  const events = await factEvents(db, request)
  const clickScope = factScope('clicks', request, p, 'c', events)
  const searchScope = factScope('searches', request, p, 'f', events)
  const clicks = events.facts('clicks', p.add, 'c')
  const searches = events.facts('searches', p.add, 'f')
  const positions = await db.query(
    ...p.query(`SELECT b.lo AS "from", b.hi AS "to", count(c.event_id)::int AS clicks
     FROM (VALUES ${Array.from({ length: 10 }, (_, i) => `(${i + 1}, ${i + 1})`).join(', ')}, (11, 20), (21, NULL)) b(lo, hi)
     LEFT JOIN ${clicks} ON c.q = ${qp} AND ${clickScope} AND c.position >= b.lo AND (b.hi IS NULL OR c.position <= b.hi)
     GROUP BY b.lo, b.hi ORDER BY b.lo`),
  )
  const documents = await db.query(
    ...p.query(`SELECT c.document, count(*)::int AS clicks, round(avg(c.position) FILTER (WHERE c.position >= 1), 6)::float8 AS "averagePosition"
     FROM ${clicks} WHERE c.q = ${qp} AND ${clickScope} AND c.document IS NOT NULL
     GROUP BY c.document ORDER BY clicks DESC, c.document LIMIT 50`),
  )
  const next = await db.query(
    ...p.query(`SELECT f.next_q AS query, count(*)::int AS count, round(avg(f.next_clicked::int), 6)::float8 AS "ledToClick"
     FROM ${searches} WHERE f.q = ${qp} AND f.is_user AND f.next_q IS NOT NULL AND ${searchScope}
     GROUP BY f.next_q ORDER BY count DESC, f.next_q LIMIT 20`),
  )
  // Refinements of this query: refinement searches of the chains of its user searches. They are
  // this query's searches of the range and the 30 minutes after it: said outright, so that the
  // index by query finds them rather than a scan of every search for the query's refinements.
  const refinements = await db.query(
    ...p.query(`SELECT r.cause, count(*)::int AS count FROM ${searches}
     JOIN report_searches r ON r.org_id = f.org_id AND r.visit_id = f.visit_id AND r.received_at >= f.received_at AND r.event_id <> f.event_id
       AND r.received_at <= f.received_at + interval '30 minutes' AND r.cause_class = 'refinement' AND NOT r.partial AND r.q = f.q
       AND r.q = ${qp} AND r.received_at >= ${p.add(request.from.toISOString())}
       AND r.received_at < ${p.add(request.to.toISOString())}::timestamptz + interval '30 minutes'
     WHERE f.q = ${qp} AND f.is_user AND ${searchScope}
     GROUP BY r.cause ORDER BY count DESC, r.cause LIMIT 20`),
  )
  const visitors = await db.query(
    ...p.query(`SELECT count(DISTINCT f.visitor_id COLLATE "C")::int AS visitors, mode() WITHIN GROUP (ORDER BY f.display) AS display
     FROM ${searches} WHERE f.q = ${qp} AND NOT f.partial AND ${searchScope}`),
  )
  const hubs = await db.query(
    ...p.query(`SELECT f.hub, count(*) FILTER (WHERE f.is_user)::int AS "userSearches",
       round((count(*) FILTER (WHERE f.uid IS NOT NULL AND NOT f.partial AND f.clicks > 0))::numeric
         / nullif(count(*) FILTER (WHERE f.uid IS NOT NULL AND NOT f.partial), 0), 6)::float8 AS ctr
     FROM ${searches} WHERE f.q = ${qp} AND NOT f.partial AND ${searchScope}
     GROUP BY f.hub ORDER BY "userSearches" DESC, f.hub NULLS LAST`),
  )
  const total = { sums: totals.sums, visits: null, protocols: totals.protocols }
  return {
    query: q,
    display: visitors.rows[0]?.display ?? q,
    totals: { ...Object.fromEntries(metrics.map((m) => [m.name, metricValue(m, total as never, supportConfigured).value])), visitors: visitors.rows[0]?.visitors ?? 0 },
    series: series.map((e, i) => ({ t: isoInZone(starts[i]!), ...Object.fromEntries(metrics.map((m) => [m.name, metricValue(m, e, supportConfigured).value])) })),
    clickPositions: positions.rows,
    documents: documents.rows,
    nextQueries: next.rows,
    refinements: refinements.rows,
    breakdown: { hub: hubs.rows },
  }
}

function cond(q: string) {
  return { kind: 'cond' as const, dim: 'query', op: '==' as const, value: q }
}

function addAll(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, number> {
  const out: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    if (Array.isArray(v)) {
      const x = out[k] as number[] | null | undefined
      out[k] = x ? x.map((n, i) => n + (v[i] as number)) : v
    } else if (v !== null) out[k] = ((out[k] as number | undefined) ?? 0) + (v as number)
  }
  return out as Record<string, number>
}

/**
 * No-result user searches clustered by gap key, with what rescued them. Counted per gap key,
 * failed query and rescue: from content-gap day tiles for clean whole days when no filter asks
 * for a dimension they do not keep, from facts for the rest; a cluster's visitors, not a sum, are
 * read from the facts of the page's clusters only.
 */
export async function contentGaps(db: pg.ClientBase, scope: Scope, minSearches: number, limit: number) {
  const p = new Params()
  const request: FactRequest = { orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(), filter: scope.filter, bots: scope.bots }
  const events = await factEvents(db, request)
  const days = scope.filter ? [] : await cleanDays(db, scope.orgId, request.from, request.to)
  const org = p.add(scope.orgId)
  const where = factScope('searches', request, p, 'f', events)
  const rest = days.length === 0 ? 'true' : outsideDaysTime(p, 'f', request.from.getTime(), request.to.getTime(), days)
  const facts = `SELECT f.gap_key, f.q, f.rescue_q, 1 AS searches FROM ${events.facts('searches', p.add)} WHERE ${where} AND (${rest}) AND ${gapFacts('f')}`
  const tiles = `SELECT t.gap_key, t.q, t.rescue_q, t.searches FROM report_gap_days t WHERE t.org_id = ${org}
    AND t.day = ANY(${p.add(days.map((d) => new Date(d).toISOString()))}::timestamptz[]) AND ${botsCondition(scope.bots, 't.is_bot')}`
  const visitorScope = factScope('searches', request, p, 'v', events)
  const { rows } = await db.query(
    ...p.query(`WITH gaps AS MATERIALIZED (
       SELECT x.gap_key, x.q, x.rescue_q, sum(x.searches)::int AS n FROM (${days.length > 0 ? `${tiles} UNION ALL ` : ''}${facts}) x
       GROUP BY x.gap_key, x.q, x.rescue_q
     ),
     clusters AS (
       SELECT gap_key, sum(n)::int AS no_result_searches FROM gaps GROUP BY gap_key HAVING sum(n) >= ${p.add(minSearches)}
       ORDER BY sum(n) DESC, gap_key LIMIT ${p.add(limit)}
     ),
     -- The clusters' queries and rescues, each summed once (not once per cluster); rescues are
     -- numbered in the order the list gives them (most frequent first).
     queries AS (
       SELECT g.gap_key, json_agg(json_build_object('query', g.q, 'searches', g.n) ORDER BY g.n DESC, g.q) AS queries
       FROM (SELECT gap_key, q, sum(n)::int AS n FROM gaps WHERE gap_key IN (SELECT gap_key FROM clusters) GROUP BY gap_key, q) g
       GROUP BY g.gap_key
     ),
     rescues AS (
       SELECT r.gap_key, json_agg(json_build_object('failedQuery', r.q, 'rescueQuery', r.rescue_q, 'count', r.n, 'rank', r.rank)) AS rescues
       FROM (SELECT gap_key, q, rescue_q, sum(n)::int AS n, row_number() OVER (ORDER BY sum(n) DESC, q, rescue_q) AS rank
             FROM gaps WHERE rescue_q IS NOT NULL AND gap_key IN (SELECT gap_key FROM clusters) GROUP BY gap_key, q, rescue_q) r
       GROUP BY r.gap_key
     )
     SELECT c.gap_key AS key, c.no_result_searches AS "noResultSearches",
       (SELECT count(DISTINCT v.visitor_id COLLATE "C")::int FROM ${events.facts('searches', p.add, 'v')}
          WHERE v.gap_key = c.gap_key AND ${gapFacts('v')} AND ${visitorScope}) AS visitors,
       q.queries, r.rescues,
       (SELECT min(s.received_at) FROM report_searches s
          WHERE s.org_id = ${org} AND s.gap_key = c.gap_key AND ${gapFacts('s')}) AS "firstSeen"
     FROM clusters c JOIN queries q USING (gap_key) LEFT JOIN rescues r USING (gap_key)
     ORDER BY c.no_result_searches DESC, c.gap_key`),
  )
  const from = scope.period.from.toMillis()
  type Rescue = { failedQuery: string; rescueQuery: string; count: number; rank: number }
  const rescues = rows
    .flatMap((c) => ((c.rescues ?? []) as Rescue[]).map((r) => ({ ...r, share: round(r.count / c.noResultSearches) })))
    .sort((a, b) => a.rank - b.rank)
  return {
    clusters: rows.map((c) => ({
      key: c.key,
      display: (c.queries as Array<{ query: string }>)[0]?.query ?? c.key,
      queries: c.queries,
      noResultSearches: c.noResultSearches,
      visitors: c.visitors,
      firstSeen: c.firstSeen ? isoInZone(inZone(scope, c.firstSeen as Date)) : null,
      newThisPeriod: c.firstSeen ? (c.firstSeen as Date).getTime() >= from : false,
    })),
    rescues: rescues.map((r) => ({ failedQuery: r.failedQuery, rescueQuery: r.rescueQuery, count: r.count, share: r.share })),
  }
}

function inZone(scope: Scope, at: Date): DateTime {
  return DateTime.fromJSDate(at).setZone(scope.tz.zone)
}
