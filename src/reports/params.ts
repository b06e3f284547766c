import { DateTime, FixedOffsetZone, IANAZone, type Zone } from 'luxon'
import { ReportError } from './errors.js'
import { and, parseFilter, type FilterNode, type Value } from './filter.js'

export type Interval = 'hour' | 'day' | 'week' | 'month'
export type Bots = 'exclude' | 'include' | 'only'

export interface TimeZone {
  /** As the request named it (or the default). */
  label: string
  zone: Zone
  /** The same zone as PostgreSQL reads it (date_trunc, AT TIME ZONE). */
  pg: string
}

export interface Period {
  from: DateTime
  to: DateTime
}

export interface Scope {
  orgId: string
  tz: TimeZone
  period: Period
  interval: Interval
  compare: Period | null
  filter: FilterNode | null
  bots: Bots
  now: DateTime
}

export type Query = Record<string, string | string[] | undefined>

export const LIMITS = { maxDays: 366, maxHourDays: 31, maxPoints: 1000 }

export function first(query: Query, name: string): string | undefined {
  const v = query[name]
  const s = Array.isArray(v) ? v[0] : v
  return s === undefined || s === '' ? undefined : s
}

export function all(query: Query, name: string): string[] {
  const v = query[name]
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v]
  return list.filter((s) => s !== '')
}

/** `Z`, `+05:30`, `-0300`, or an IANA name. */
export function parseTimeZone(text: string): TimeZone {
  const offset = /^(?:Z|UTC|([+-])(\d{2}):?(\d{2}))$/i.exec(text)
  if (offset) {
    const minutes = offset[1] ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) : 0
    if (Math.abs(minutes) > 14 * 60) throw new ReportError('InvalidParameter', `Invalid time zone offset ${text}`)
    const hh = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0')
    const mm = String(Math.abs(minutes) % 60).padStart(2, '0')
    // POSIX zone strings count west as positive: +05:30 is "<+0530>-05:30".
    const sign = minutes >= 0 ? '+' : '-'
    const pg = minutes === 0 ? 'UTC' : `<${sign}${hh}${mm}>${minutes >= 0 ? '-' : '+'}${hh}:${mm}`
    return { label: minutes === 0 ? 'Z' : `${sign}${hh}:${mm}`, zone: FixedOffsetZone.instance(minutes), pg }
  }
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(text) || !IANAZone.isValidZone(text)) {
    throw new ReportError('InvalidParameter', `Unknown time zone ${JSON.stringify(text)}: use an IANA name or an offset such as +05:30`)
  }
  const name = new IANAZone(text).name
  return { label: name, zone: new IANAZone(name), pg: name }
}

function parseInstant(text: string, tz: TimeZone, end: boolean): DateTime {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = DateTime.fromISO(text, { zone: tz.zone })
    if (!day.isValid) throw new ReportError('InvalidRange', `Invalid date ${text}`)
    // A date-only `to` includes its day.
    return end ? day.plus({ days: 1 }) : day
  }
  const at = DateTime.fromISO(text, { zone: tz.zone, setZone: false })
  if (!at.isValid) throw new ReportError('InvalidRange', `Invalid date-time ${JSON.stringify(text)}: use ISO 8601`)
  return at.setZone(tz.zone)
}

interface ResolvedRange extends Period {
  /** The calendar length `compare=previous` shifts by. */
  shift: { days?: number; months?: number; hours?: number; milliseconds?: number }
}

export function resolveRange(query: Query, tz: TimeZone, now: DateTime, defaultRange = '30d'): ResolvedRange {
  const from = first(query, 'from')
  const to = first(query, 'to')
  if (from !== undefined || to !== undefined) {
    if (from === undefined || to === undefined) throw new ReportError('InvalidRange', 'from and to go together: give both, or a range')
    const f = parseInstant(from, tz, false)
    const t = parseInstant(to, tz, true)
    if (!(f < t)) throw new ReportError('InvalidRange', 'from must be before to')
    return { from: f, to: t, shift: { milliseconds: t.toMillis() - f.toMillis() } }
  }
  const range = first(query, 'range') ?? defaultRange
  const today = now.setZone(tz.zone).startOf('day')
  const local = now.setZone(tz.zone)
  const days = /^(\d{1,3})d$/.exec(range)
  if (days) {
    const n = Number(days[1])
    if (n < 1 || n > LIMITS.maxDays) throw new ReportError('InvalidRange', `range Nd takes 1 to ${LIMITS.maxDays} days`)
    return { from: today.minus({ days: n - 1 }), to: local, shift: { days: n } }
  }
  switch (range) {
    case 'today':
      return { from: today, to: local, shift: { days: 1 } }
    case 'yesterday':
      return { from: today.minus({ days: 1 }), to: today, shift: { days: 1 } }
    case '24h':
      return { from: local.minus({ hours: 24 }), to: local, shift: { hours: 24 } }
    case 'thisMonth':
      return { from: local.startOf('month'), to: local, shift: { months: 1 } }
    case 'lastMonth':
      return { from: local.startOf('month').minus({ months: 1 }), to: local.startOf('month'), shift: { months: 1 } }
    case '12mo':
      return { from: local.startOf('month').minus({ months: 11 }), to: local, shift: { months: 12 } }
  }
  throw new ReportError('InvalidRange', `Unknown range ${JSON.stringify(range)}: today, yesterday, 24h, Nd, thisMonth, lastMonth, 12mo`)
}

export function defaultInterval(period: Period): Interval {
  const days = period.to.diff(period.from, 'days').days
  if (days <= 2) return 'hour'
  if (days <= 92) return 'day'
  if (days <= 366) return 'week'
  return 'month'
}

/** Bucket starts in the time zone: the first at or before `from`, each one interval later. */
export function bucketStarts(period: Period, interval: Interval): DateTime[] {
  const starts: DateTime[] = []
  let at = period.from.startOf(interval)
  while (at < period.to) {
    starts.push(at)
    if (starts.length > LIMITS.maxPoints) {
      throw new ReportError('TooManyPoints', `More than ${LIMITS.maxPoints} ${interval} points: choose a longer interval or a shorter range`)
    }
    at = at.plus({ [`${interval}s`]: 1 })
  }
  return starts
}

const SHORTHANDS: Record<string, string> = {
  hub: 'hub', tab: 'tab', language: 'language', device: 'device', protocol: 'protocol', cause: 'cause',
  causeclass: 'causeClass', query: 'query', hasresults: 'hasResults', hasclicks: 'hasClicks', pipeline: 'pipeline',
}

/** `f` (repeated: ANDed) and the shorthands `hub=`, `c.<key>=`… (repeated: IN). */
export function parseFilters(query: Query, extraNames: string[] = []): FilterNode | null {
  const nodes: FilterNode[] = all(query, 'f').map(parseFilter)
  for (const [name, raw] of Object.entries(query)) {
    const lower = name.toLowerCase()
    const dim = SHORTHANDS[lower] ?? (/^c\.[^.]+$/i.test(name) ? name : undefined)
    if (!dim || extraNames.includes(lower)) continue
    const values: Value[] = (Array.isArray(raw) ? raw : [raw ?? '']).map((v) =>
      ['hasResults', 'hasClicks'].includes(dim) ? ['true', '1'].includes(v.toLowerCase()) : dim === 'query' ? v : v,
    )
    nodes.push(values.length === 1 ? { kind: 'cond', dim, op: '==', value: values[0]! } : { kind: 'in', dim, negated: false, values })
  }
  return and(nodes)
}

export function parseBots(query: Query): Bots {
  const bots = first(query, 'bots') ?? 'exclude'
  if (bots !== 'exclude' && bots !== 'include' && bots !== 'only') throw new ReportError('InvalidParameter', 'bots is exclude, include or only')
  return bots
}

export interface ScopeOptions {
  defaultRange?: string
  defaultCompare?: 'none' | 'previous'
  /** Query parameters of the endpoint that are not filter shorthands (e.g. `query` on queries/detail). */
  notShorthands?: string[]
}

export function parseScope(query: Query, orgId: string, orgTimeZone: string | undefined, now: Date, options: ScopeOptions = {}): Scope {
  const tz = parseTimeZone(first(query, 'tz') ?? orgTimeZone ?? 'Z')
  const at = DateTime.fromJSDate(now).setZone(tz.zone)
  const range = resolveRange(query, tz, at, options.defaultRange)
  const period = { from: range.from, to: range.to }
  const spanDays = period.to.diff(period.from, 'days').days
  if (spanDays > LIMITS.maxDays + 1) throw new ReportError('RangeTooLarge', `A range may cover at most ${LIMITS.maxDays} days`)
  const intervalText = first(query, 'interval')
  if (intervalText !== undefined && !['hour', 'day', 'week', 'month'].includes(intervalText)) {
    throw new ReportError('InvalidParameter', 'interval is hour, day, week or month')
  }
  const interval = (intervalText as Interval | undefined) ?? defaultInterval(period)
  if (interval === 'hour' && spanDays > LIMITS.maxHourDays + 1) {
    throw new ReportError('TooManyPoints', `Hourly points cover at most ${LIMITS.maxHourDays} days`)
  }
  bucketStarts(period, interval)
  return {
    orgId,
    tz,
    period,
    interval,
    compare: parseCompare(query, tz, range, options.defaultCompare ?? 'none'),
    filter: parseFilters(query, options.notShorthands),
    bots: parseBots(query),
    now: at,
  }
}

function parseCompare(query: Query, tz: TimeZone, range: ResolvedRange, fallback: 'none' | 'previous'): Period | null {
  const compareFrom = first(query, 'compareFrom')
  const compareTo = first(query, 'compareTo')
  if (compareFrom !== undefined || compareTo !== undefined) {
    if (compareFrom === undefined || compareTo === undefined) throw new ReportError('InvalidRange', 'compareFrom and compareTo go together')
    const from = parseInstant(compareFrom, tz, false)
    const to = parseInstant(compareTo, tz, true)
    if (!(from < to)) throw new ReportError('InvalidRange', 'compareFrom must be before compareTo')
    return { from, to }
  }
  const compare = first(query, 'compare') ?? fallback
  switch (compare) {
    case 'none':
      return null
    case 'previous':
      return { from: range.from.minus(range.shift), to: range.to.minus(range.shift) }
    case 'year': {
      const shift = first(query, 'matchWeekday') === 'true' ? { days: 364 } : { years: 1 }
      return { from: range.from.minus(shift), to: range.to.minus(shift) }
    }
  }
  throw new ReportError('InvalidParameter', 'compare is none, previous or year (or give compareFrom and compareTo)')
}

export function isoInZone(at: DateTime): string {
  return at.toISO({ suppressMilliseconds: true })!
}

export function positiveInt(query: Query, name: string, fallback: number, max: number): number {
  const text = first(query, name)
  if (text === undefined) return fallback
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new ReportError('InvalidParameter', `${name} must be a positive integer`)
  return Math.min(Number(text), max)
}
