import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Principal } from '../../auth/principal.js'
import { classifyError } from '../../errors.js'
import { DataKeyStore } from '../../protocols/inbenta/priorities.js'
import { authorizeRead, freshness, orgSettings, withSnapshot, type OrgReportSettings } from '../context.js'
import { dimension, dimensionCatalogue } from '../dimensions.js'
import { aggregate, visitSums } from '../engine.js'
import { ReportError } from '../errors.js'
import { parseFilter, renderFilter } from '../filter.js'
import { metricCatalogue, parseMetrics } from '../metrics.js'
import { all, first, isoInZone, parseScope, positiveInt, type Query, type Scope, type ScopeOptions } from '../params.js'
import { documentDetail, documentRows, DOCUMENT_VIEWS, feedbackComments, feedbackRows, type DocumentView } from '../reports/content.js'
import { exportSql, sendExport } from '../reports/export.js'
import { quality } from '../reports/quality.js'
import { contentGaps, parseQueryList, queryDetail, queryRows } from '../reports/queries.js'
import { breakdown, overview, timeseries } from '../reports/series.js'
import { deflection, visitRows, visitTimeline } from '../reports/visits.js'
import { requestedFormat, streamRows, type Freshness } from './output.js'
import type { ReportsRuntime } from '../plugin.js'

const OVERVIEW_METRICS = ['searches', 'userSearches', 'ctr', 'noResultRate', 'averageClickRank', 'abandonmentRate', 'reformulationRate',
  'timeToFirstClick', 'visits', 'visitors', 'deflectionRate', 'feedbackPositiveRate']
const SERIES_METRICS = ['searches', 'userSearches', 'ctr', 'noResultRate']

interface Context {
  principal: Principal
  settings: OrgReportSettings
  scope: Scope
  now: Date
}

interface Answer {
  data: unknown
  notMeasurable?: string[]
  nextCursor?: string | null
}

/** Cursors pin what a list was asked for (resolved range, zone, filter, order) and where it stopped. */
interface Cursor {
  from: string
  to: string
  key: string
  offset: number
}

function listKey(scope: Scope, query: Query, names: string[]): string {
  const parts = [scope.tz.label, renderFilter(scope.filter) ?? '', scope.bots, ...names.map((n) => `${n}=${all(query, n).join(',')}`)]
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 16)
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor
    if (typeof c.from === 'string' && typeof c.to === 'string' && typeof c.key === 'string' && Number.isInteger(c.offset) && c.offset >= 0) return c
  } catch {
    /* fall through */
  }
  throw new ReportError('InvalidCursor', 'The cursor is not one this service issued')
}

export function reportApi(runtime: ReportsRuntime) {
  return async (app: FastifyInstance) => {
    const dataKeys = new DataKeyStore(app.db)

    app.setErrorHandler((err, request, reply) => {
      const e = classifyError(err)
      if (e.internal) request.log.error({ err }, 'report failed')
      const details = err instanceof ReportError && err.details ? { details: err.details } : {}
      return reply.code(e.statusCode).headers(e.headers).send({ message: e.message, type: e.code, ...details })
    })
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ message: `No route for ${request.method} ${request.url.split('?')[0]}`, type: 'NotFound' }),
    )

    async function context(request: FastifyRequest, options: ScopeOptions & { cursorNames?: string[] } = {}): Promise<Context & { cursor: Cursor | null }> {
      const principal = await authorizeRead(request)
      const org = await app.keys.getOrg(principal.orgId)
      const settings = orgSettings(org?.settings ?? {})
      const query = request.query as Query
      const now = app.clock()
      const cursorText = first(query, 'cursor')
      const cursor = cursorText ? decodeCursor(cursorText) : null
      const pinned = cursor ? { ...query, from: cursor.from, to: cursor.to, range: undefined } : query
      const scope = parseScope(pinned, principal.orgId, settings.timezone, now, options)
      if (cursor && cursor.key !== listKey(scope, query, options.cursorNames ?? [])) {
        throw new ReportError('InvalidCursor', 'The cursor belongs to another request: repeat the parameters it was issued for')
      }
      return { principal, settings, scope, now, cursor }
    }

    function meta(ctx: Context, fresh: Freshness, answer: Answer) {
      const { scope } = ctx
      return {
        org: scope.orgId,
        from: isoInZone(scope.period.from),
        to: isoInZone(scope.period.to),
        tz: scope.tz.label,
        interval: scope.interval,
        compare: scope.compare ? { from: isoInZone(scope.compare.from), to: isoInZone(scope.compare.to) } : null,
        filter: renderFilter(scope.filter),
        bots: scope.bots,
        notMeasurable: answer.notMeasurable ?? [],
        nextCursor: answer.nextCursor ?? null,
        freshness: fresh,
      }
    }

    /** A report answered as JSON in the envelope. */
    async function answer(request: FastifyRequest, reply: FastifyReply, options: ScopeOptions, fn: (db: pg.PoolClient, ctx: Context) => Promise<Answer>) {
      const format = requestedFormat(request)
      if (format !== 'json') throw new ReportError('NotAcceptable', 'This report answers JSON; lists and exports also answer CSV and NDJSON')
      const ctx = await context(request, options)
      return withSnapshot(runtime.readPool, async (db) => {
        const fresh = await freshness(db, ctx.now, ctx.settings.bindWindowHours)
        const result = await fn(db, ctx)
        return reply.send({ data: result.data, meta: meta(ctx, fresh, result) })
      })
    }

    /**
     * A list: JSON pages of `limit` rows (≤ 1,000) with a cursor to the next page, or every row
     * (or `limit`) streamed as CSV or NDJSON, pulled a page at a time from one snapshot.
     */
    async function list(
      request: FastifyRequest, reply: FastifyReply, options: ScopeOptions & { cursorNames: string[]; maxLimit?: number; name: string },
      page: (db: pg.PoolClient, ctx: Context, offset: number, limit: number) => Promise<Array<Record<string, unknown>>>,
    ) {
      const format = requestedFormat(request)
      const ctx = await context(request, options)
      const query = request.query as Query
      const offset = ctx.cursor?.offset ?? 0
      if (format === 'json') {
        const limit = positiveInt(query, 'limit', 50, options.maxLimit ?? 1000)
        return withSnapshot(runtime.readPool, async (db) => {
          const fresh = await freshness(db, ctx.now, ctx.settings.bindWindowHours)
          const rows = await page(db, ctx, offset, limit + 1)
          const more = rows.length > limit
          const nextCursor = more
            ? encodeCursor({ from: ctx.scope.period.from.toISO()!, to: ctx.scope.period.to.toISO()!, key: listKey(ctx.scope, query, options.cursorNames), offset: offset + limit })
            : null
          return reply.send({ data: { rows: rows.slice(0, limit) }, meta: meta(ctx, fresh, { data: null, nextCursor }) })
        })
      }
      const total = first(query, 'limit') === undefined ? Infinity : positiveInt(query, 'limit', 1, Number.MAX_SAFE_INTEGER)
      const pool = runtime.readPool
      const client = await pool.connect()
      let fresh: Freshness
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        fresh = await freshness(client, ctx.now, ctx.settings.bindWindowHours)
      } catch (err) {
        client.release(err as Error)
        throw err
      }
      async function* pages() {
        let failed: Error | undefined
        try {
          let at = offset
          let left = total
          while (left > 0) {
            const size = Math.min(1000, left)
            const rows = await page(client, ctx, at, size)
            if (rows.length > 0) yield rows
            if (rows.length < size) break
            at += size
            left -= size
          }
          await client.query('COMMIT')
        } catch (err) {
          failed = err as Error
          throw err
        } finally {
          if (failed) await client.query('ROLLBACK').catch(() => {})
          client.release(failed)
        }
      }
      return streamRows(request, reply, format, fresh, pages(), options.name)
    }

    app.get('/metrics', async () => ({ data: metricCatalogue() }))
    app.get('/dimensions', async () => ({ data: dimensionCatalogue() }))

    app.get<{ Params: { name: string } }>('/dimensions/:name/values', async (request, reply) =>
      answer(request, reply, {}, async (db, ctx) => {
        const d = dimension(request.params.name, ctx.scope.tz.pg)
        const prefix = first(request.query as Query, 'prefix') ?? ''
        const rows = await aggregate(db, {
          orgId: ctx.scope.orgId, tz: ctx.scope.tz, from: ctx.scope.period.from.toJSDate(), to: ctx.scope.period.to.toJSDate(),
          filter: prefix ? { kind: 'and', children: [...(ctx.scope.filter ? [ctx.scope.filter] : []), parseFilter(`${d.name} =@ ${JSON.stringify(prefix)}`)] } : ctx.scope.filter,
          bots: ctx.scope.bots, groupBy: [d.name],
        })
        const counts = new Map<string | null, number>()
        for (const r of rows) counts.set(r.groups[0] ?? null, (counts.get(r.groups[0] ?? null) ?? 0) + r.sums.facts!)
        const values = [...counts].filter(([v]) => v === null || prefix === '' || v.toLowerCase().startsWith(prefix.toLowerCase()))
          .map(([value, events]) => ({ value, events })).sort((a, b) => b.events - a.events || String(a.value).localeCompare(String(b.value))).slice(0, 1000)
        return { data: values }
      }),
    )

    app.get('/status', async (request, reply) => {
      const ctx = await context(request)
      return withSnapshot(runtime.readPool, async (db) => {
        const fresh = await freshness(db, ctx.now, ctx.settings.bindWindowHours)
        const { rows } = await db.query(
          `SELECT (SELECT max(last_at) FROM report_visits WHERE org_id = $1) AS visit_last,
             (SELECT max(received_at) FROM report_searches WHERE org_id = $1) AS search_last,
             (SELECT max(received_at) FROM report_clicks WHERE org_id = $1) AS click_last,
             (SELECT max(received_at) FROM report_others WHERE org_id = $1) AS other_last,
             (SELECT count(*)::int FROM report_hours WHERE org_id = $1 AND dirty_since IS NOT NULL) AS dirty,
             (SELECT last_run_ms FROM report_state) AS last_run_ms`,
          [ctx.scope.orgId],
        )
        const r = rows[0]!
        const last = [r.visit_last, r.search_last, r.click_last, r.other_last].filter(Boolean).map((d: Date) => d.getTime())
        return reply.send({
          data: {
            lastEventAt: last.length ? new Date(Math.max(...last)).toISOString() : null,
            completeUntil: fresh.completeUntil,
            lagSeconds: fresh.lagSeconds,
            rollups: { dirtyBuckets: r.dirty, lastRunMs: runtime.maintenance?.lastCycle?.ms ?? r.last_run_ms ?? null },
            maintenance: { enabled: runtime.maintenance !== undefined, holdsLease: runtime.maintenance?.holdsLease ?? false },
            bindWindowHours: ctx.settings.bindWindowHours,
            extensions: { hll: false },
          },
        })
      })
    })

    app.get('/overview', async (request, reply) =>
      answer(request, reply, { defaultCompare: 'previous' }, async (db, ctx) => {
        const metrics = parseMetrics(all(request.query as Query, 'metrics'), OVERVIEW_METRICS)
        return overview(db, ctx.scope, metrics, ctx.settings.supportConfigured)
      }),
    )

    app.get('/timeseries', async (request, reply) =>
      answer(request, reply, {}, async (db, ctx) => {
        const metrics = parseMetrics(all(request.query as Query, 'metrics'), SERIES_METRICS)
        const fresh = await freshness(db, ctx.now, ctx.settings.bindWindowHours)
        return timeseries(db, ctx.scope, metrics, ctx.settings.supportConfigured, new Date(fresh.provisionalFrom))
      }),
    )

    app.get('/breakdown', async (request, reply) => {
      const query = request.query as Query
      const dims = all(query, 'dimension').flatMap((d) => d.split(','))
      if (dims.length < 1 || dims.length > 2) throw new ReportError('InvalidParameter', 'dimension names one or two dimensions')
      return list(request, reply, { cursorNames: ['dimension', 'metrics'], name: 'breakdown', notShorthands: [] }, async (db, ctx, offset, limit) => {
        const metrics = parseMetrics(all(query, 'metrics'), ['searches', 'userSearches', 'ctr', 'noResultRate'])
        const rows = await breakdown(db, ctx.scope, dims, metrics, ctx.settings.supportConfigured)
        const key = metrics.find((m) => m.summable)?.name ?? metrics[0]!.name
        rows.sort((a, b) => ((b[key] as number) ?? -1) - ((a[key] as number) ?? -1) || String(dims.map((d) => a[d]).join()).localeCompare(dims.map((d) => b[d]).join()))
        return rows.slice(offset, offset + limit)
      })
    })

    app.get('/queries', async (request, reply) => {
      const parsed = parseQueryList(request.query as Query)
      return list(
        request, reply,
        { cursorNames: ['view', 'orderBy', 'direction', 'includeEmpty', 'queryContains', 'minSearches'], name: 'queries', defaultCompare: parsed.view === 'trending' ? 'previous' : 'none', notShorthands: ['query'] },
        (db, ctx, offset, limit) => queryRows(db, ctx.scope, parsed, offset, limit),
      )
    })

    app.get('/queries/detail', async (request, reply) => {
      const q = first(request.query as Query, 'query')
      if (q === undefined) throw new ReportError('InvalidParameter', 'query names the query to detail')
      return answer(request, reply, { notShorthands: ['query'] }, async (db, ctx) => ({ data: await queryDetail(db, ctx.scope, q, ctx.settings.supportConfigured) }))
    })

    app.get('/content-gaps', async (request, reply) =>
      answer(request, reply, {}, async (db, ctx) => {
        const query = request.query as Query
        return { data: await contentGaps(db, ctx.scope, positiveInt(query, 'minSearches', 2, 1_000_000), positiveInt(query, 'limit', 50, 1000)) }
      }),
    )

    app.get('/documents', async (request, reply) => {
      const query = request.query as Query
      const view = (first(query, 'view') ?? 'top') as DocumentView
      if (!DOCUMENT_VIEWS.includes(view)) throw new ReportError('InvalidParameter', `view is one of ${DOCUMENT_VIEWS.join(', ')}`)
      const minClicks = positiveInt(query, 'minClicks', 10, 1_000_000)
      return list(request, reply, { cursorNames: ['view', 'minClicks'], name: 'documents' }, (db, ctx, offset, limit) => documentRows(db, ctx.scope, view, minClicks, offset, limit))
    })

    app.get('/documents/detail', async (request, reply) => {
      const document = first(request.query as Query, 'document')
      if (document === undefined) throw new ReportError('InvalidParameter', 'document names the document to detail')
      return answer(request, reply, {}, async (db, ctx) => ({ data: await documentDetail(db, ctx.scope, document) }))
    })

    app.get('/visits', async (request, reply) => {
      const query = request.query as Query
      const fn = all(query, 'fn')
      const exclude = fn.length > 0 ? (fn.length === 1 ? parseFilter(fn[0]!) : { kind: 'or' as const, children: fn.map(parseFilter) }) : null
      const orderBy = first(query, 'orderBy') ?? 'start'
      const direction = (first(query, 'direction') ?? 'desc') as 'asc' | 'desc'
      if (direction !== 'asc' && direction !== 'desc') throw new ReportError('InvalidParameter', 'direction is asc or desc')
      return list(request, reply, { cursorNames: ['fn', 'orderBy', 'direction'], name: 'visits', maxLimit: 200 }, async (db, ctx, offset, limit) =>
        visitRows(db, ctx.scope, exclude, orderBy, direction, offset, limit, await dataKeys.priorities(ctx.scope.orgId)),
      )
    })

    app.get<{ Params: { visitId: string } }>('/visits/:visitId', async (request, reply) =>
      answer(request, reply, {}, async (db, ctx) => {
        const visit = await visitTimeline(db, ctx.scope.orgId, request.params.visitId, await dataKeys.priorities(ctx.scope.orgId))
        // Another org's visit and a malformed id look the same: not found.
        if (!visit) throw new ReportError('NotFound', `No visit ${request.params.visitId}`)
        return { data: visit }
      }),
    )

    app.get('/deflection', async (request, reply) =>
      answer(request, reply, {}, async (db, ctx) => {
        const cost = first(request.query as Query, 'costPerTicket')
        if (cost !== undefined && !(Number(cost) >= 0)) throw new ReportError('InvalidParameter', 'costPerTicket is a number ≥ 0')
        const { scope } = ctx
        const [v] = await visitSums(db, { orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(), filter: scope.filter, bots: scope.bots })
        return { data: await deflection(db, scope, v!, cost === undefined ? null : Number(cost), await dataKeys.priorities(scope.orgId)) }
      }),
    )

    app.get('/feedback', async (request, reply) => {
      const query = request.query as Query
      const groupBy = first(query, 'groupBy') ?? 'query'
      if (first(query, 'comments') === 'true') {
        return answer(request, reply, {}, async (db, ctx) => ({
          data: { rows: await feedbackRows(db, ctx.scope, groupBy, 0, positiveInt(query, 'limit', 50, 1000)), comments: await feedbackComments(db, ctx.scope) },
        }))
      }
      return list(request, reply, { cursorNames: ['groupBy'], name: 'feedback', notShorthands: ['query'] }, (db, ctx, offset, limit) => feedbackRows(db, ctx.scope, groupBy, offset, limit))
    })

    app.get('/quality', async (request, reply) =>
      answer(request, reply, { defaultRange: '7d' }, async (db, ctx) => ({ data: { checks: await quality(db, { ...ctx.scope, bots: 'include' }) } })),
    )

    app.get('/export', async (request, reply) => {
      const format = requestedFormat(request)
      if (format === 'json') throw new ReportError('NotAcceptable', 'export answers format=csv or format=ndjson')
      const ctx = await context(request)
      const query = request.query as Query
      const types = all(query, 'types').flatMap((t) => t.split(',')).filter(Boolean)
      const columns = all(query, 'columns').flatMap((c) => c.split(',')).filter(Boolean)
      const sql = exportSql({ scope: ctx.scope, types, columns: columns.length ? columns : null, format })
      const fresh = await withSnapshot(runtime.readPool, (db) => freshness(db, ctx.now, ctx.settings.bindWindowHours))
      return sendExport(request, reply, runtime.exportPool, sql, format, {
        'x-complete-until': fresh.completeUntil ?? '', 'x-provisional-from': fresh.provisionalFrom,
      })
    })
  }
}
