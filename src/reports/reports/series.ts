import type pg from 'pg'
import type { DateTime } from 'luxon'
import { dimension } from '../dimensions.js'
import { addSums, aggregate, dimensionColumn, emptySums, filterDimensionsOf, Params, visitSums, type AggregateRow } from '../engine.js'
import { eventColumns } from '../event-columns.js'
import { ReportError } from '../errors.js'
import { compileFilter } from '../filter.js'
import type { FactTable } from '../measures.js'
import { change, nullReason, type MetricDefinition, type MetricValue, type Sums, type VisitSums } from '../metrics.js'
import { bucketStarts, isoInZone, type Period, type Scope } from '../params.js'
import { round, significant, wilson } from '../stats.js'

export interface Evaluated {
  sums: Sums
  visits: VisitSums | null
  protocols: string[]
}

const NO_VISITS: VisitSums = { visits: 0, visitors: 0, withSearch: 0, withSearchAndClick: 0, searchesInVisits: 0, withUserSearch: 0, selfService: 0, support: 0, ticket: 0 }

function collect(rows: AggregateRow[], buckets: number): Evaluated[] {
  const out = Array.from({ length: buckets }, () => ({ sums: emptySums(), visits: null as VisitSums | null, protocols: [] as string[] }))
  for (const row of rows) {
    const target = out[row.bucket]
    if (!target) continue
    target.sums = addSums(target.sums, row.sums)
    if (row.sums.facts! > 0 && !target.protocols.includes(row.protocol)) target.protocols.push(row.protocol)
  }
  return out
}

/** Measures (and visits, when a metric needs them) of a period, by bucket or in total. */
export async function evaluate(db: pg.ClientBase, scope: Scope, metrics: MetricDefinition[], period: Period, starts?: DateTime[]): Promise<Evaluated[]> {
  const buckets = starts?.map((s) => s.toJSDate())
  const request = { orgId: scope.orgId, tz: scope.tz, from: period.from.toJSDate(), to: period.to.toJSDate(), buckets, filter: scope.filter, bots: scope.bots }
  const out = collect(await aggregate(db, request), buckets?.length ?? 1)
  if (metrics.some((m) => m.source === 'visits')) {
    const visits = await visitSums(db, request)
    visits.forEach((v, i) => (out[i]!.visits = v))
  }
  return out
}

export function metricValue(m: MetricDefinition, e: Evaluated, supportConfigured: boolean): MetricValue {
  const value = m.value(e.sums, e.visits ?? NO_VISITS)
  return value === null ? { value: null, reason: nullReason(m, e.protocols, supportConfigured) } : { value }
}

/** A value with its comparison: previous and change; ratios add delta, Wilson ci95 and significance. */
export function compared(m: MetricDefinition, current: Evaluated, previous: Evaluated | null, supportConfigured: boolean): MetricValue {
  const out = metricValue(m, current, supportConfigured)
  if (m.proportion) {
    const [k, n] = m.proportion(current.sums, current.visits ?? NO_VISITS)
    out.ci95 = wilson(k, n)
  }
  if (!previous) return out
  const prev = m.value(previous.sums, previous.visits ?? NO_VISITS)
  out.previous = prev
  out.change = change(out.value, prev)
  if (m.unit === 'ratio') {
    out.delta = out.value === null || prev === null ? null : round(out.value - prev)
    if (m.proportion) {
      const [k1, n1] = m.proportion(current.sums, current.visits ?? NO_VISITS)
      const [k2, n2] = m.proportion(previous.sums, previous.visits ?? NO_VISITS)
      out.significant = significant(k1, n1, k2, n2)
    }
  }
  return out
}

export async function overview(db: pg.ClientBase, scope: Scope, metrics: MetricDefinition[], supportConfigured: boolean) {
  const [current] = await evaluate(db, scope, metrics, scope.period)
  const previous = scope.compare ? (await evaluate(db, scope, metrics, scope.compare))[0]! : null
  const data: Record<string, MetricValue> = {}
  for (const m of metrics) data[m.name] = compared(m, current!, previous, supportConfigured)
  return { data, notMeasurable: metrics.filter((m) => data[m.name]!.reason === 'notMeasurable').map((m) => m.name) }
}

function point(t: DateTime, metrics: MetricDefinition[], e: Evaluated, supportConfigured: boolean) {
  const row: Record<string, unknown> = { t: isoInZone(t) }
  for (const m of metrics) row[m.name] = metricValue(m, e, supportConfigured).value
  return row
}

export async function timeseries(db: pg.ClientBase, scope: Scope, metrics: MetricDefinition[], supportConfigured: boolean, provisionalFrom: Date) {
  const starts = bucketStarts(scope.period, scope.interval)
  const points = await evaluate(db, scope, metrics, scope.period, starts)
  const [total] = await totalsOf(db, scope, metrics, scope.period, points)
  const out: Record<string, unknown> = {
    points: points.map((e, i) => {
      const end = i + 1 < starts.length ? starts[i + 1]! : scope.period.to
      return { ...point(starts[i]!, metrics, e, supportConfigured), provisional: end.toJSDate() > provisionalFrom }
    }),
    totals: Object.fromEntries(metrics.map((m) => [m.name, metricValue(m, total!, supportConfigured).value])),
  }
  const notMeasurable = metrics.filter((m) => metricValue(m, total!, supportConfigured).reason === 'notMeasurable').map((m) => m.name)
  if (scope.compare) {
    const compareStarts = bucketStarts(scope.compare, scope.interval)
    const previous = await evaluate(db, scope, metrics, scope.compare, compareStarts)
    const [previousTotal] = await totalsOf(db, scope, metrics, scope.compare, previous)
    out.compare = previous.map((e, i) => point(compareStarts[i]!, metrics, e, supportConfigured))
    out.compareTotals = Object.fromEntries(metrics.map((m) => [m.name, metricValue(m, previousTotal!, supportConfigured).value]))
  }
  return { data: out, notMeasurable }
}

/** Totals are computed from summed measures (never from summed ratios); visits are recounted over the whole range. */
async function totalsOf(db: pg.ClientBase, scope: Scope, metrics: MetricDefinition[], period: Period, points: Evaluated[]): Promise<Evaluated[]> {
  const total: Evaluated = { sums: emptySums(), visits: null, protocols: [] }
  for (const e of points) {
    total.sums = addSums(total.sums, e.sums)
    for (const p of e.protocols) if (!total.protocols.includes(p)) total.protocols.push(p)
  }
  if (metrics.some((m) => m.source === 'visits')) {
    total.visits = (await visitSums(db, { orgId: scope.orgId, tz: scope.tz, from: period.from.toJSDate(), to: period.to.toJSDate(), filter: scope.filter, bots: scope.bots }))[0]!
  }
  return [total]
}

/** Rows by one or two dimensions, each with the metrics and its share of the first summable metric. */
export async function breakdown(db: pg.ClientBase, scope: Scope, dims: string[], metrics: MetricDefinition[], supportConfigured: boolean) {
  const resolved = dims.map((d) => dimension(d, scope.tz.pg))
  for (const d of resolved) if (!d.groupable) throw new ReportError('InvalidDimension', `${d.name} cannot be grouped by`)
  const badVisitMetric = metrics.find((m) => m.source === 'visits' && m.name !== 'visits' && m.name !== 'visitors')
  if (badVisitMetric) throw new ReportError('InvalidMetric', `${badVisitMetric.name} cannot be broken down by dimension`)
  const rows = await aggregate(db, {
    orgId: scope.orgId, tz: scope.tz, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate(),
    filter: scope.filter, bots: scope.bots, groupBy: resolved.map((d) => d.name),
  })
  const groups = new Map<string, { keys: Array<string | null>; e: Evaluated }>()
  for (const row of rows) {
    const key = JSON.stringify(row.groups)
    const g = groups.get(key) ?? { keys: row.groups, e: { sums: emptySums(), visits: null, protocols: [] } }
    g.e.sums = addSums(g.e.sums, row.sums)
    if (row.sums.facts! > 0 && !g.e.protocols.includes(row.protocol)) g.e.protocols.push(row.protocol)
    groups.set(key, g)
  }
  if (metrics.some((m) => m.source === 'visits')) {
    for (const [key, v] of await groupedVisits(db, scope, resolved.map((d) => d.name))) {
      const g = groups.get(key) ?? { keys: JSON.parse(key) as Array<string | null>, e: { sums: emptySums(), visits: null, protocols: [] } }
      g.e.visits = { ...NO_VISITS, ...v }
      groups.set(key, g)
    }
  }
  const shareOf = metrics.find((m) => m.summable)
  const values = [...groups.values()].map((g) => {
    const row: Record<string, unknown> = {}
    resolved.forEach((d, i) => (row[d.name] = g.keys[i]))
    for (const m of metrics) row[m.name] = metricValue(m, g.e, supportConfigured).value
    return row
  }).filter((row) => metrics.some((m) => row[m.name] !== null && row[m.name] !== 0))
  const total = shareOf ? values.reduce((a, r) => a + ((r[shareOf.name] as number | null) ?? 0), 0) : 0
  for (const row of values) row.share = shareOf && total > 0 ? round(((row[shareOf.name] as number | null) ?? 0) / total) : null
  return values
}

async function groupedVisits(db: pg.ClientBase, scope: Scope, dims: string[]): Promise<Map<string, Partial<VisitSums>>> {
  const p = new Params()
  const tables: FactTable[] = ['searches', 'clicks', 'others']
  const range = { orgId: scope.orgId, from: scope.period.from.toJSDate(), to: scope.period.to.toJSDate() }
  const events = await eventColumns(db, range, [...dims.map((d) => dimension(d, scope.tz.pg)), ...filterDimensionsOf(scope.filter, scope.tz.pg)])
  const branches = tables.map((table) => {
    const column = (name: string) => dimensionColumn(dimension(name, scope.tz.pg), table, events)
    const groups = dims.map((d, i) => `(${column(d).sql})::text AS g${i}`)
    return `SELECT f.visit_id, f.visitor_id, ${groups.join(', ')} FROM ${events.facts(table, p.add)}
      WHERE f.org_id = ${p.add(scope.orgId)} AND f.received_at >= ${p.add(scope.period.from.toISO())} AND f.received_at < ${p.add(scope.period.to.toISO())}
        AND ${scope.bots === 'exclude' ? 'NOT f.is_bot' : scope.bots === 'only' ? 'f.is_bot' : 'true'}
        AND ${scope.filter ? compileFilter(scope.filter, column, p.add) : 'true'}`
  })
  const names = dims.map((_, i) => `g${i}`)
  const { rows } = await db.query(
    `SELECT ${names.join(', ')}, count(DISTINCT visit_id)::int AS visits, count(DISTINCT visitor_id COLLATE "C")::int AS visitors
     FROM (${branches.join(' UNION ALL ')}) x GROUP BY ${names.join(', ')}`,
    p.values,
  )
  return new Map(rows.map((r) => [JSON.stringify(names.map((n) => r[n] ?? null)), { visits: r.visits, visitors: r.visitors }]))
}
