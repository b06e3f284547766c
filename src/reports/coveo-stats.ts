import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DateTime } from 'luxon'
import { AuthError } from '../auth/errors.js'
import { assertOriginAllowed } from '../auth/origins.js'
import type { Principal } from '../auth/principal.js'
import { classifyError } from '../errors.js'
import { ANALYTICS_BASES } from '../protocols/coveo/index.js'
import { requestToken } from '../protocols/coveo/request.js'
import { freshness, orgSettings, withSnapshot } from './context.js'
import { dimension } from './dimensions.js'
import { ReportError } from './errors.js'
import { and, parseFilter, type FilterNode, type Value } from './filter.js'
import { metric, METRICS, type MetricDefinition } from './metrics.js'
import { all, bucketStarts, first, parseTimeZone, type Interval, type Query, type Scope } from './params.js'
import { breakdown, evaluate, metricValue } from './reports/series.js'
import { csvField } from './http/output.js'
import type { ReportsRuntime } from './plugin.js'

/*
 * The subset of Coveo's Usage Analytics Read API that front ends and dashboards call (docs/reports.md):
 * stats/topQueries (the JavaScript Search Framework's omnibox suggestions), stats/globalData and
 * stats/combinedData with Coveo's metric and dimension names, in Coveo's error shape {message, type}.
 */

// Where the write API is served, and the paths the Search Framework builds for reads:
// `${serviceUrl}/v15/stats/…` with a serviceUrl of `…/rest/ua`, a bare origin or a proxy prefix.
const STATS_BASES = [...new Set([...ANALYTICS_BASES, '/rest/v15', '/v15', '/:proxy/v15'])]
const TOP_QUERIES_V14 = ['/rest/ua/v14', '/rest/v14']

const NATIVE: Record<string, string> = {
  topQueries: 'GET /api/v1/queries', globalData: 'GET /api/v1/overview', combinedData: 'GET /api/v1/breakdown',
}

function renderError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  // Coveo answers an unknown or expired token with 400 InvalidToken (its clients renew on it).
  const status = err instanceof AuthError && err.code === 'InvalidToken' ? 400 : e.statusCode
  if (e.internal) request.log.error({ err }, 'coveo stats request failed')
  return reply.code(status).headers(e.headers).send({ message: e.message, type: e.code })
}

/**
 * Who may read: an analytics:read key of the org, or — for topQueries only — one of the org's
 * search tokens, limited to the hub its searchHub claim names (what Coveo allows a search token).
 */
async function reader(request: FastifyRequest, allowSearchToken: boolean): Promise<Principal> {
  const query = request.query as Query
  const principal = await request.server.auth.authenticate(requestToken(request), first(query, 'org'))
  const allowed = principal.privileges.has('analytics:read') || (allowSearchToken && principal.kind === 'search-token')
  if (!allowed) throw new AuthError('Forbidden', 'This token cannot read analytics: use a key with the analytics:read privilege')
  await assertOriginAllowed(request, principal.orgId)
  return principal
}

/** Coveo metric names: the aliases of the catalogue, every native name, and the few function forms supported. */
function coveoMetric(name: string): MetricDefinition | 'distinctQueries' {
  const lower = name.toLowerCase().replaceAll(' ', '')
  if (lower === 'countdistinct(queryexpression)') return 'distinctQueries'
  if (lower === 'average(actionresponsetime)') return metric('averageResponseTime')
  try {
    return metric(name)
  } catch {
    throw unsupported([name])
  }
}

function unsupported(names: string[]) {
  const supported = [...new Set(METRICS.flatMap((m) => [...m.coveoNames, m.name]))]
  return new ReportError('InvalidMetric', `Unsupported metric(s): ${names.join(', ')}. Supported: ${supported.join(', ')}, countDistinct(queryexpression)`)
}

function metricsOf(query: Query): Array<{ name: string; metric: MetricDefinition | 'distinctQueries' }> {
  const names = all(query, 'm').flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean)
  if (names.length === 0) throw new ReportError('InvalidParameter', 'm (the metrics) is required')
  const bad: string[] = []
  const out = names.flatMap((name) => {
    try {
      return [{ name, metric: coveoMetric(name) }]
    } catch {
      bad.push(name)
      return []
    }
  })
  if (bad.length) throw unsupported(bad)
  return out
}

const INTERVALS: Record<string, Interval> = { HOUR: 'hour', DAY: 'day', WEEK: 'week', MONTH: 'month' }

function coveoScope(query: Query, orgId: string, defaultTz: string | undefined): Scope {
  const tz = parseTimeZone(first(query, 'tz') ?? 'Z')
  const fromText = first(query, 'from')
  const toText = first(query, 'to')
  if (!fromText || !toText) throw new ReportError('InvalidRange', 'from and to are required (ISO 8601 with an offset)')
  const from = DateTime.fromISO(fromText, { setZone: true })
  const to = DateTime.fromISO(toText, { setZone: true })
  if (!from.isValid || !to.isValid || !(from < to)) throw new ReportError('InvalidRange', 'from and to must be ISO 8601 date-times, from before to')
  if (to.diff(from, 'days').days > 367) throw new ReportError('RangeTooLarge', 'A range may cover at most 366 days')
  const iText = (first(query, 'i') ?? 'DAY').toUpperCase()
  const interval = INTERVALS[iText]
  if (!interval) throw new ReportError('InvalidParameter', `i is HOUR, DAY, WEEK or MONTH${iText === 'MINUTE' ? ' (minutes are not kept)' : ''}`)
  void defaultTz
  const filters: Array<FilterNode | null> = all(query, 'f').map(parseFilter)
  return {
    orgId, tz, interval, compare: null, filter: and(filters), bots: 'exclude',
    period: { from: from.setZone(tz.zone), to: to.setZone(tz.zone) }, now: DateTime.now().setZone(tz.zone),
  }
}

async function distinctQueries(db: import('pg').ClientBase, scope: Scope): Promise<number> {
  const { factEvents, factScope, Params } = await import('./engine.js')
  const p = new Params()
  const request = { orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(), filter: scope.filter, bots: scope.bots }
  const events = await factEvents(db, request)
  const where = factScope('searches', request, p, 'f', events)
  const { rows } = await db.query(
    `SELECT count(DISTINCT f.q COLLATE "C")::int AS n FROM ${events.facts('searches', p.add)} WHERE ${where} AND f.is_user`,
    p.values,
  )
  return rows[0]!.n
}

/** Evaluate a `having` (fm) filter on a row of metric values. */
function having(node: FilterNode, row: Record<string, unknown>): boolean {
  const get = (name: string) => {
    const key = Object.keys(row).find((k) => k.toLowerCase() === name.toLowerCase())
    if (key === undefined) throw new ReportError('InvalidFilter', `fm names ${name}, which is not among m or d`, { position: 0, expected: 'a requested metric' })
    return row[key] as Value
  }
  switch (node.kind) {
    case 'and':
      return node.children.every((c) => having(c, row))
    case 'or':
      return node.children.some((c) => having(c, row))
    case 'not':
      return !having(node.child, row)
    case 'in': {
      const v = get(node.dim)
      const hit = node.values.some((x) => String(x) === String(v))
      return node.negated ? !hit : hit
    }
    case 'cond': {
      const v = get(node.dim)
      const x = node.value
      if (v === null || v === undefined) return node.op === '!=' || node.op === '!~' || node.op === '!@' || (x === null && node.op === '==')
      switch (node.op) {
        case '==': return String(v) === String(x)
        case '!=': return String(v) !== String(x)
        case '=~': return String(v).toLowerCase() === String(x).toLowerCase()
        case '!~': return String(v).toLowerCase() !== String(x).toLowerCase()
        case '=@': return String(v).toLowerCase().includes(String(x).toLowerCase())
        case '!@': return !String(v).toLowerCase().includes(String(x).toLowerCase())
        case '<': return Number(v) < Number(x)
        case '<=': return Number(v) <= Number(x)
        case '>': return Number(v) > Number(x)
        case '>=': return Number(v) >= Number(x)
      }
    }
  }
}

export function coveoStats(runtime: ReportsRuntime) {
  return async (app: FastifyInstance) => {
    app.setErrorHandler((err, request, reply) => renderError(err, request, reply))

    async function topQueries(request: FastifyRequest) {
      const principal = await reader(request, true)
      const query = request.query as Query
      const pageSize = Number(first(query, 'pageSize') ?? 10)
      const pageNumber = Number(first(query, 'pageNumber') ?? 0)
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new ReportError('InvalidParameter', 'pageSize is an integer from 1 to 1000')
      if (!Number.isInteger(pageNumber) || pageNumber < 0) throw new ReportError('InvalidParameter', 'pageNumber is an integer ≥ 0')
      const org = await app.keys.getOrg(principal.orgId)
      const settings = orgSettings(org?.settings ?? {})
      const hub = principal.kind === 'search-token' ? (principal.searchHub ?? null) : (first(query, 'hub') ?? null)
      const now = app.clock()
      return withSnapshot(runtime.readPool, async (db) => {
        const { rows } = await db.query(
          `WITH p AS (SELECT report_normalize_query($2) AS p)
           SELECT mode() WITHIN GROUP (ORDER BY f.display) AS display
           FROM report_searches f, p
           WHERE f.org_id = $1 AND f.received_at >= $3::timestamptz - interval '30 days' AND f.received_at < $3::timestamptz
             AND f.is_user AND NOT f.is_bot AND ($4::text IS NULL OR f.hub = $4)
             AND (starts_with(f.q, p.p) OR strpos(f.q, ' ' || p.p) > 0)
           GROUP BY f.q
           HAVING count(DISTINCT f.visitor_id COLLATE "C") >= $5 AND NOT coalesce(bool_and(f.nr = 0) FILTER (WHERE f.nr IS NOT NULL), false)
           ORDER BY count(*) FILTER (WHERE f.chain_clicked) DESC, count(*) DESC, f.q
           OFFSET $6 LIMIT $7`,
          [principal.orgId, first(query, 'queryText') ?? '', now, hub, settings.minVisitors, pageNumber * pageSize, pageSize],
        )
        return rows.map((r) => r.display as string)
      })
    }

    async function globalData(request: FastifyRequest) {
      const principal = await reader(request, false)
      const query = request.query as Query
      const requested = metricsOf(query)
      const org = await app.keys.getOrg(principal.orgId)
      const settings = orgSettings(org?.settings ?? {})
      const scope = coveoScope(query, principal.orgId, settings.timezone)
      const starts = bucketStarts(scope.period, scope.interval)
      return withSnapshot(runtime.readPool, async (db) => {
        const fresh = await freshness(db, app.clock(), settings.bindWindowHours)
        const metrics = requested.flatMap((r) => (r.metric === 'distinctQueries' ? [] : [r.metric]))
        const points = await evaluate(db, scope, metrics, scope.period, starts)
        const [total] = await evaluate(db, scope, metrics, scope.period)
        const globalDatas: Record<string, unknown> = {}
        for (const r of requested) {
          if (r.metric === 'distinctQueries') {
            globalDatas[r.name] = { value: await distinctQueries(db, scope) }
            continue
          }
          const m = r.metric
          const value = metricValue(m, total!, settings.supportConfigured).value
          if (m.summable && m.source === 'facts') {
            const perInterval = points.map((e) => metricValue(m, e, settings.supportConfigured).value ?? 0)
            globalDatas[r.name] = { total: value ?? 0, peak: Math.max(0, ...perInterval), average: Math.round(((value ?? 0) / starts.length) * 1e6) / 1e6 }
          } else {
            globalDatas[r.name] = { value }
          }
        }
        return { globalDatas, lastUpdated: fresh.completeUntil ? Date.parse(fresh.completeUntil) : null, cached: false }
      })
    }

    async function combinedData(request: FastifyRequest, reply: FastifyReply) {
      const principal = await reader(request, false)
      const query = request.query as Query
      const requested = metricsOf(query)
      const dims = all(query, 'd').flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean)
      if (dims.length === 0) throw new ReportError('InvalidParameter', 'd (the dimensions) is required')
      const org = await app.keys.getOrg(principal.orgId)
      const settings = orgSettings(org?.settings ?? {})
      const scope = coveoScope(query, principal.orgId, settings.timezone)
      const resolved = dims.map((d) => dimension(d, scope.tz.pg))
      const fm = all(query, 'fm').map(parseFilter)
      const format = (first(query, 'format') ?? 'JSON').toUpperCase()
      if (format !== 'JSON' && format !== 'CSV') throw new ReportError('InvalidParameter', 'format is JSON or CSV')
      const pageSize = Math.min(Number(first(query, 'n') ?? 100), 10_000)
      const page = Number(first(query, 'p') ?? 1)
      if (!(pageSize >= 1) || !Number.isInteger(page) || page < 1) throw new ReportError('InvalidParameter', 'n is 1 to 10000 and p a page number from 1')
      const asc = (first(query, 'asc') ?? 'true').toLowerCase() !== 'false'
      const sortBy = first(query, 's') ?? dims[0]!
      if (![...dims, ...requested.map((r) => r.name)].some((n) => n.toLowerCase() === sortBy.toLowerCase())) {
        throw new ReportError('InvalidParameter', 's names one of the requested metrics or dimensions')
      }
      const metrics = requested.map((r) => {
        if (r.metric === 'distinctQueries') throw new ReportError('InvalidMetric', `${r.name} is available in globalData only`)
        return r.metric
      })
      return withSnapshot(runtime.readPool, async (db) => {
        const fresh = await freshness(db, app.clock(), settings.bindWindowHours)
        const rows = await breakdown(db, scope, resolved.map((d) => d.name), metrics, settings.supportConfigured)
        let combinations = rows.map((row) => {
          const out: Record<string, unknown> = {}
          resolved.forEach((d, i) => {
            const v = row[d.name]
            out[dims[i]!] = d.type === 'time' && typeof v === 'string' ? Date.parse(v.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00')) : v
          })
          requested.forEach((r) => (out[r.name] = row[(r.metric as MetricDefinition).name]))
          return out
        })
        for (const f of fm) combinations = combinations.filter((c) => having(f, c))
        const uniqueCounts = Object.fromEntries(dims.map((d) => [d, new Set(combinations.map((c) => c[d])).size]))
        const key = [...dims, ...requested.map((r) => r.name)].find((n) => n.toLowerCase() === sortBy.toLowerCase())!
        combinations.sort((a, b) => {
          const x = a[key] as string | number | null
          const y = b[key] as string | number | null
          const c = x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1
          return (asc ? c : -c) || JSON.stringify(dims.map((d) => a[d])).localeCompare(JSON.stringify(dims.map((d) => b[d])))
        })
        const total = combinations.length
        const pageRows = combinations.slice((page - 1) * pageSize, page * pageSize)
        if (format === 'CSV') {
          const header = [...dims, ...requested.map((r) => r.name)]
          const body = [header.map(csvField).join(','), ...pageRows.map((c) => header.map((h) => csvField(c[h])).join(','))].join('\r\n') + '\r\n'
          return reply.header('content-type', 'text/csv; charset=utf-8').send(body)
        }
        const out: Record<string, unknown> = { combinations: pageRows, totalNumberOfResults: total, lastUpdated: fresh.completeUntil ? Date.parse(fresh.completeUntil) : null, cached: false }
        if ((first(query, 'includeMetadata') ?? 'true') !== 'false') out.uniqueCounts = uniqueCounts
        return reply.send(out)
      })
    }

    for (const base of STATS_BASES) {
      app.get(`${base}/stats/topQueries`, topQueries)
      app.get(`${base}/stats/globalData`, globalData)
      app.get(`${base}/stats/combinedData`, combinedData)
      app.get(`${base}/stats/status`, async () => ({ status: 'online' }))
      app.get(`${base}/stats/monitoring/health`, async () => ({ status: 'UP' }))
      app.get(`${base}/stats/*`, async (request) => {
        const name = (request.params as { '*': string })['*'].split('/')[0]!
        throw new ReportError('NotImplemented', `stats/${name} is not implemented here${NATIVE[name] ? `; see ${NATIVE[name]}` : '; the native reports are under /api/v1 (GET /api/v1/metrics lists them)'}`)
      })
    }
    for (const base of TOP_QUERIES_V14) app.get(`${base}/stats/topQueries`, topQueries)
  }
}
