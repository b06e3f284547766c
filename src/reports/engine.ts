import type pg from 'pg'
import { dimension, type Dimension } from './dimensions.js'
import { eventColumns, type EventColumns } from './event-columns.js'
import { compileFilter, filterDimensions, type FilterNode } from './filter.js'
import { MEASURES, TILE_DIMENSIONS, VISIT_MEASURES, measureExpression, sumOf, ttfcBins, visitorHash, type FactTable } from './measures.js'
import type { Sums, VisitSums } from './metrics.js'
import type { Bots, TimeZone } from './params.js'

/** SQL parameters collected while a statement is built. */
export class Params {
  readonly values: unknown[] = []
  add = (value: unknown): string => {
    this.values.push(value)
    return `$${this.values.length}`
  }

  /**
   * A statement that uses some of the parameters collected so far, renumbered: PostgreSQL refuses
   * parameters a statement does not reference (several statements share one collection).
   */
  query(sql: string): [string, unknown[]] {
    const used = new Map<number, number>()
    const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
      const index = Number(n)
      if (!used.has(index)) used.set(index, used.size + 1)
      return `$${used.get(index)}`
    })
    return [text, [...used.keys()].map((i) => this.values[i - 1])]
  }
}

export interface AggregateRequest {
  orgId: string
  tz: TimeZone
  from: Date
  to: Date
  /** Bucket starts (sorted); rows before the first belong to none. Absent: one bucket. */
  buckets?: Date[]
  filter: FilterNode | null
  bots: Bots
  /** Dimensions to group by (breakdown). */
  groupBy?: string[]
}

export interface AggregateRow {
  bucket: number
  protocol: string
  groups: Array<string | null>
  sums: Sums
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const TABLES: FactTable[] = ['searches', 'clicks', 'others']

export function botsCondition(bots: Bots, column: string): string {
  return bots === 'exclude' ? `NOT ${column}` : bots === 'only' ? column : 'true'
}

/** Whether every dimension the request filters or groups by is stored in tiles. */
function tileable(dims: Dimension[]): boolean {
  return dims.every((d) => d.tile !== undefined)
}

/** Clean time served by tiles: whole UTC days from day tiles, single hours from hour tiles. */
interface TileSpans {
  days: number[]
  hours: number[]
}

/**
 * Hours and days served by tiles: built, unchanged since, entirely inside the range and inside
 * one bucket. A day serves only while every hour of it is clean: an hour changed since its day
 * was summed is read from its facts, and so are the rest of its day's hours (from their tiles).
 * Everything else is read from the facts, so an answer is as fresh as the facts.
 */
async function tileSpans(db: pg.ClientBase, request: AggregateRequest): Promise<TileSpans> {
  const { rows } = await db.query<{ hour: Date }>(
    `SELECT hour FROM report_hours WHERE org_id = $1 AND hour >= $2 AND hour + interval '1 hour' <= $3
       AND dirty_since IS NULL AND built_at IS NOT NULL ORDER BY hour`,
    [request.orgId, request.from, request.to],
  )
  const cuts = (request.buckets ?? []).map((b) => b.getTime())
  const inOneBucket = (start: number, length: number) => !cuts.some((c) => c > start && c < start + length)
  const days = (await cleanDays(db, request.orgId, request.from, request.to)).filter((d) => inOneBucket(d, DAY))
  const hours = rows
    .map((r) => r.hour.getTime())
    .filter((h) => inOneBucket(h, HOUR) && !days.some((d) => h >= d && h < d + DAY))
  return { days, hours }
}

/**
 * UTC days inside [from, to) whose day tiles answer: summed, and every hour of theirs still clean
 * (a day with an hour changed since is read from its hours and facts).
 */
export async function cleanDays(db: pg.ClientBase, orgId: string, from: Date, to: Date): Promise<number[]> {
  const { rows } = await db.query<{ day: Date }>(
    `SELECT d.day FROM report_days d WHERE d.org_id = $1 AND d.day >= $2 AND d.day + interval '1 day' <= $3
       AND NOT EXISTS (SELECT 1 FROM report_hours h WHERE h.org_id = d.org_id AND h.hour >= d.day AND h.hour < d.day + interval '1 day'
                         AND (h.dirty_since IS NOT NULL OR h.built_at IS NULL))
     ORDER BY d.day`,
    [orgId, from, to],
  )
  return rows.map((r) => r.day.getTime())
}

/** The parts of [from, to) not covered by whole days, as intervals. */
export function outsideDays(from: number, to: number, days: number[]): Array<[number, number]> {
  return factIntervals(from, to, { days, hours: [] })
}

/**
 * The condition on `alias.received_at` keeping the parts of [from, to) outside whole `days`: what
 * a report summing day tiles for those days reads from facts (`false` when nothing is left).
 */
export function outsideDaysTime(p: Params, alias: string, from: number, to: number, days: number[]): string {
  const intervals = outsideDays(from, to, days)
  return intervals.length === 0 ? 'false'
    : intervals.map(([a, b]) => `(${alias}.received_at >= ${p.add(new Date(a).toISOString())} AND ${alias}.received_at < ${p.add(new Date(b).toISOString())})`).join(' OR ')
}

/** The parts of [from, to) not covered by tile spans, as merged intervals. */
function factIntervals(from: number, to: number, spans: TileSpans): Array<[number, number]> {
  const covered = [...spans.days.map((d) => [d, d + DAY]), ...spans.hours.map((h) => [h, h + HOUR])].sort((a, b) => a[0]! - b[0]!)
  const out: Array<[number, number]> = []
  let at = from
  for (const [start, end] of covered) {
    if (start! > at) out.push([at, start!])
    at = Math.max(at, end!)
  }
  if (at < to) out.push([at, to])
  return out
}

/** Every hour the tile spans cover (the facts' exclusion list when the gaps are many). */
function coveredHours(spans: TileSpans): number[] {
  return [...spans.hours, ...spans.days.flatMap((d) => Array.from({ length: 24 }, (_, i) => d + i * HOUR))]
}

/** A dimension's SQL on tiles or on a fact table (with `events`, columns of raw events as they read them). */
export function dimensionColumn(d: Dimension, table: FactTable | 'tiles', events?: EventColumns): { sql: string; type: string } {
  if (table === 'tiles') return { sql: `t.${d.tile}`, type: d.type }
  if (events) return events.dimension(d, table)
  return { sql: d.sql[table] ?? 'NULL', type: d.type }
}

/** The dimensions a filter names (for `eventColumns`). */
export function filterDimensionsOf(filter: FilterNode | null, tz: string): Dimension[] {
  return filterDimensions(filter).map((name) => dimension(name, tz))
}

/**
 * Sum every measure over [from, to) by bucket (and groups), protocol by protocol: tiles for clean
 * hours, facts for the rest, with the same filter compiled against each.
 */
export async function aggregate(db: pg.ClientBase, request: AggregateRequest): Promise<AggregateRow[]> {
  const p = new Params()
  const groups = (request.groupBy ?? []).map((g) => dimension(g, request.tz.pg))
  const filterDims = filterDimensions(request.filter).map((name) => dimension(name, request.tz.pg))
  const useTiles = tileable([...groups, ...filterDims])
  const spans = useTiles ? await tileSpans(db, request) : { days: [], hours: [] }
  const intervals = factIntervals(request.from.getTime(), request.to.getTime(), spans)
  const buckets = p.add((request.buckets ?? [request.from]).map((b) => b.toISOString()))
  const org = p.add(request.orgId)
  const events = intervals.length > 0 ? await eventColumns(db, request, [...groups, ...filterDims]) : undefined

  const branch = (table: FactTable | 'tiles' | 'days'): string => {
    const source = table === 'days' ? 'tiles' : table
    const column = (name: string) => dimensionColumn(dimension(name, request.tz.pg), source, source === 'tiles' ? undefined : events)
    const where = request.filter ? compileFilter(request.filter, column, p.add) : 'true'
    const groupCols = groups.map((g, i) => `(${dimensionColumn(g, source, source === 'tiles' ? undefined : events).sql})::text AS g${i}`)
    if (table === 'tiles' || table === 'days') {
      const measures = MEASURES.map((m) => `t.${m.name}`)
      const [tiles, time, starts] = table === 'days' ? ['report_day_tiles', 't.day', spans.days] : ['report_tiles', 't.hour', spans.hours]
      return `SELECT ${time} AS at, t.protocol, ${[...groupCols, ...measures].join(', ')} FROM ${tiles} t
        WHERE t.org_id = ${org} AND ${time} = ANY(${p.add(starts.map((h) => new Date(h).toISOString()))}::timestamptz[])
          AND ${botsCondition(request.bots, 't.is_bot')} AND ${where}`
    }
    const measures = MEASURES.map((m) => `${measureExpression(m, table)} AS ${m.name}`)
    const time = intervals.length <= 40
      ? intervals.map(([a, b]) => `(f.received_at >= ${p.add(new Date(a).toISOString())} AND f.received_at < ${p.add(new Date(b).toISOString())})`).join(' OR ')
      : `f.received_at >= ${p.add(request.from.toISOString())} AND f.received_at < ${p.add(request.to.toISOString())}
         AND date_trunc('hour', f.received_at) <> ALL(${p.add(coveredHours(spans).map((h) => new Date(h).toISOString()))}::timestamptz[])`
    return `SELECT f.received_at AS at, f.protocol, ${[...groupCols, ...measures].join(', ')} FROM ${events!.facts(table, p.add)}
      WHERE f.org_id = ${org} AND (${time}) AND ${botsCondition(request.bots, 'f.is_bot')} AND ${where}`
  }

  const parts = [
    ...(spans.days.length > 0 ? [branch('days')] : []),
    ...(spans.hours.length > 0 ? [branch('tiles')] : []),
    ...(intervals.length > 0 ? TABLES.map(branch) : []),
  ]
  if (parts.length === 0) return []
  const groupNames = groups.map((_, i) => `x.g${i}`)
  const sql = `
    SELECT width_bucket(x.at, ${buckets}::timestamptz[]) AS bucket, x.protocol${groupNames.map((g) => `, ${g}`).join('')},
      ${MEASURES.map((m) => `${sumOf(m, `x.${m.name}`)} AS ${m.name}`).join(', ')}
    FROM (${parts.join('\nUNION ALL\n')}) x
    GROUP BY 1, 2${groupNames.map((_, i) => `, ${i + 3}`).join('')}`
  const { rows } = await db.query(sql, p.values)
  return rows
    .filter((r) => r.bucket > 0)
    .map((r) => ({
      bucket: r.bucket - 1,
      protocol: r.protocol,
      groups: groups.map((_, i) => r[`g${i}`] ?? null),
      sums: toSums(r),
    }))
}

function toSums(row: Record<string, unknown>): Sums {
  const sums: Record<string, unknown> = {}
  for (const m of MEASURES) sums[m.name] = Number(row[m.name] ?? 0)
  sums.ttfc = ttfcBins(sums)
  return sums as Sums
}

export function addSums(a: Sums, b: Sums): Sums {
  const out: Record<string, unknown> = {}
  for (const m of MEASURES) out[m.name] = (a[m.name] ?? 0) + (b[m.name] ?? 0)
  out.ttfc = ttfcBins(out)
  return out as Sums
}

export function emptySums(): Sums {
  return addSums({} as Sums, {} as Sums)
}

/**
 * Visits of a range: those with an event in it (bots by their first event), per bucket. Without a
 * filter, from the visit rows, and for a clean UTC day inside one bucket from its visit day tile
 * (the visits begun that day); with one, the visits holding a matching fact in the range.
 * Visitors are counted as distinct hashes of their ids (`visitorHash`), which day tiles keep.
 */
export async function visitSums(
  db: pg.ClientBase,
  request: Omit<AggregateRequest, 'groupBy' | 'buckets'> & { buckets?: Date[] },
): Promise<VisitSums[]> {
  const p = new Params()
  const org = p.add(request.orgId)
  const starts = (request.buckets ?? [request.from]).map((b) => b.getTime())
  const edges: Array<[number, number]> = starts.map((s, i) => [Math.max(s, request.from.getTime()), i + 1 < starts.length ? starts[i + 1]! : request.to.getTime()])
  const iso = (ms: number) => new Date(ms).toISOString()
  let visitsSql: string
  let daysSql = ''
  if (!request.filter) {
    const clean = await cleanDays(db, request.orgId, request.from, request.to)
    const days = edges.map(([s, e]) => clean.filter((d) => d >= s && d + DAY <= e))
    const bucketOfDay = days.flatMap((ds, i) => ds.map((d) => [d, i + 1] as const))
    if (bucketOfDay.length > 0) {
      daysSql = `SELECT b.i, d.* FROM unnest(${p.add(bucketOfDay.map(([d]) => iso(d)))}::timestamptz[], ${p.add(bucketOfDay.map(([, i]) => i))}::int[]) b(day, i)
        JOIN report_visit_days d ON d.org_id = ${org} AND d.day = b.day WHERE ${botsCondition(request.bots, 'd.is_bot')}`
    }
    // The other visits by when they began: outside the bucket's clean days, from the day before it
    // (visits longer than a day are not looked for before a bucket starts: the index is by time).
    const spans = edges.flatMap(([s, e], i) => outsideDays(s - DAY, e, days[i]!).map(([a, b]) => ({ i: i + 1, a, b, s })))
    visitsSql = `SELECT r.i, v.* FROM unnest(${p.add(spans.map((x) => x.i))}::int[], ${p.add(spans.map((x) => iso(x.a)))}::timestamptz[],
        ${p.add(spans.map((x) => iso(x.b)))}::timestamptz[], ${p.add(spans.map((x) => iso(x.s)))}::timestamptz[]) r(i, a, b, s)
      JOIN report_visits v ON v.org_id = ${org} AND v.first_at >= r.a AND v.first_at < r.b AND v.last_at >= r.s
      WHERE ${botsCondition(request.bots, 'v.is_bot')}`
  } else {
    const bucketStarts = p.add(edges.map(([a]) => iso(a)))
    const bucketEnds = p.add(edges.map(([, b]) => iso(b)))
    const events = await eventColumns(db, request, filterDimensionsOf(request.filter, request.tz.pg))
    const branches = TABLES.map((table) => {
      const column = (name: string) => dimensionColumn(dimension(name, request.tz.pg), table, events)
      return `SELECT f.visit_id, f.received_at FROM ${events.facts(table, p.add)}
        WHERE f.org_id = ${org} AND f.received_at >= ${p.add(request.from.toISOString())} AND f.received_at < ${p.add(request.to.toISOString())}
          AND f.visit_id IS NOT NULL AND ${botsCondition(request.bots, 'f.is_bot')} AND ${compileFilter(request.filter!, column, p.add)}`
    })
    // Distinct (bucket, visit id) pairs first, then one visit row each: made distinct after the
    // join, every matching fact carried its visit's whole row into the sort.
    visitsSql = `SELECT d.i, v.* FROM (
        SELECT DISTINCT b.i, m.visit_id FROM (${branches.join(' UNION ALL ')}) m
        JOIN unnest(${bucketStarts}::timestamptz[], ${bucketEnds}::timestamptz[]) WITH ORDINALITY b(s, e, i) ON m.received_at >= b.s AND m.received_at < b.e
      ) d
      JOIN report_visits v ON v.org_id = ${org} AND v.visit_id = d.visit_id`
  }
  const measures = VISIT_MEASURES.map((m) => m.name)
  const { rows } = await db.query(
    `WITH visits AS MATERIALIZED (SELECT v.i, ${VISIT_MEASURES.map((m) => `${m.expression} AS ${m.name}`).join(', ')},
        ${visitorHash('v.visitor_id')} AS visitor FROM (${visitsSql}) v)
      ${daysSql ? `, days AS MATERIALIZED (${daysSql})` : ''},
      sums AS (
        SELECT u.i, ${measures.map((name) => `sum(u.${name})::float8 AS ${name}`).join(', ')} FROM (
          SELECT i, ${measures.join(', ')} FROM visits
          ${daysSql ? `UNION ALL SELECT i, ${measures.join(', ')} FROM days` : ''}
        ) u GROUP BY u.i
      ),
      people AS (
        SELECT h.i, count(*)::int AS visitors FROM (
          SELECT DISTINCT i, visitor FROM visits WHERE visitor IS NOT NULL
          ${daysSql ? 'UNION SELECT i, unnest(visitors) FROM days' : ''}
        ) h GROUP BY h.i
      )
    SELECT sums.*, coalesce(people.visitors, 0) AS visitors FROM sums LEFT JOIN people ON people.i = sums.i`,
    p.values,
  )
  const none = (): VisitSums => ({ visits: 0, visitors: 0, withSearch: 0, withSearchAndClick: 0, searchesInVisits: 0, withUserSearch: 0, selfService: 0, support: 0, ticket: 0 })
  const out = edges.map(none)
  for (const r of rows) {
    const sums = none()
    for (const m of VISIT_MEASURES) sums[m.field] = Number(r[m.name] ?? 0)
    sums.visitors = r.visitors
    out[Number(r.i) - 1] = sums
  }
  return out
}

export interface FactRequest { orgId: string; tz: TimeZone; from: Date; to: Date; filter: FilterNode | null; bots: Bots }

/**
 * The SQL of the facts of one table matching a scope (for the per-query and per-document reports),
 * read from `events.facts(table, …)` (see `factEvents`).
 */
export function factScope(table: FactTable, request: FactRequest, p: Params, alias = 'f', events?: EventColumns): string {
  const column = (name: string) => {
    const c = dimensionColumn(dimension(name, request.tz.pg), table, events)
    return { sql: c.sql.replaceAll('f.', `${alias}.`), type: c.type }
  }
  return `${alias}.org_id = ${p.add(request.orgId)} AND ${alias}.received_at >= ${p.add(request.from.toISOString())}
    AND ${alias}.received_at < ${p.add(request.to.toISOString())} AND ${botsCondition(request.bots, `${alias}.is_bot`)}
    AND ${request.filter ? compileFilter(request.filter, column, p.add) : 'true'}`
}

/** The event columns of the facts a request's filter reads (`factScope`). */
export function factEvents(db: pg.ClientBase, request: FactRequest): Promise<EventColumns> {
  return eventColumns(db, request, filterDimensionsOf(request.filter, request.tz.pg))
}

export const TILE_DIMENSION_NAMES = Object.keys(TILE_DIMENSIONS)
