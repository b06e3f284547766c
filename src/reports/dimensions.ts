import { normalizeKey } from '../events/custom-data.js'
import { ReportError } from './errors.js'
import type { FactTable } from './measures.js'

export type DimensionType = 'string' | 'number' | 'boolean' | 'time'

export interface Dimension {
  name: string
  type: DimensionType
  coveoNames: string[]
  /** May rows be grouped by it (breakdown, combinedData). */
  groupable: boolean
  /** Stored in the hourly tiles: filters and groups on it need no fact scan. */
  tile?: string
  /** SQL per fact table over the fact row `f` (NULL when the dimension does not apply to it). */
  sql: Partial<Record<FactTable, string>>
  /**
   * Per fact table where the dimension is a column of the raw event behind the fact: the
   * expression over the event `e` (`sql` reads it by the fact's keys; on Citus reports join the
   * events of their range instead, src/reports/event-columns.ts).
   */
  raw?: Partial<Record<FactTable, string>>
  description: string
}

/** A column of the raw event behind the fact `f`, read by the fact's keys. */
export const eventLookup = (expression: string) =>
  `(SELECT ${expression} FROM events e WHERE e.org_id = f.org_id AND e.event_id = f.event_id AND e.received_at = f.received_at)`

// The dimensions facts do not copy are columns of the raw event behind the fact: `raw(expression over e)`.
interface RawColumn { event: string }
type Column = string | RawColumn
const raw = (expression: string): RawColumn => ({ event: expression })
const all = <C extends Column>(expression: C): Partial<Record<FactTable, C>> => ({ searches: expression, clicks: expression, others: expression })

type DimensionSpec = Omit<Dimension, 'sql' | 'raw'> & { sql: Partial<Record<FactTable, Column>> }

/** A dimension's SQL per fact table, raw event columns read by lookup, their expressions kept in `raw`. */
function columns(spec: DimensionSpec): Dimension {
  const sql: Partial<Record<FactTable, string>> = {}
  const rawExpressions: Partial<Record<FactTable, string>> = {}
  for (const [table, column] of Object.entries(spec.sql) as Array<[FactTable, Column]>) {
    if (typeof column === 'string') sql[table] = column
    else {
      sql[table] = eventLookup(column.event)
      rawExpressions[table] = column.event
    }
  }
  return Object.keys(rawExpressions).length > 0 ? { ...spec, sql, raw: rawExpressions } : { ...spec, sql }
}

const SPECS: DimensionSpec[] = [
  { name: 'hub', type: 'string', coveoNames: ['originLevel1', 'searchHub'], groupable: true, tile: 'hub', sql: all('f.hub'), description: 'origin_level1 (search hub)' },
  { name: 'tab', type: 'string', coveoNames: ['originLevel2'], groupable: true, tile: 'tab', sql: all('f.tab'), description: 'origin_level2 (tab)' },
  {
    name: 'originLevel3', type: 'string', coveoNames: ['originLevel3'], groupable: true,
    sql: { searches: 'f.origin_level3', clicks: raw('e.origin_level3'), others: raw('e.origin_level3') }, description: 'origin_level3 (referrer)',
  },
  { name: 'language', type: 'string', coveoNames: ['language'], groupable: true, tile: 'language', sql: all('f.language'), description: 'language' },
  { name: 'device', type: 'string', coveoNames: ['deviceCategory'], groupable: true, tile: 'device', sql: all('f.device'), description: 'device category' },
  { name: 'protocol', type: 'string', coveoNames: [], groupable: true, tile: 'protocol', sql: all('f.protocol'), description: 'protocol the event arrived through' },
  {
    name: 'pipeline', type: 'string', coveoNames: ['queryPipeline'], groupable: true,
    sql: { searches: 'f.pipeline', clicks: 'f.pipeline', others: raw('e.query_pipeline') }, description: 'query pipeline (clicks: their search\'s)',
  },
  { name: 'browser', type: 'string', coveoNames: ['browser'], groupable: true, sql: all(raw('e.browser')), description: 'browser (from the user agent)' },
  { name: 'os', type: 'string', coveoNames: ['os'], groupable: true, sql: all(raw('e.os')), description: 'operating system (from the user agent)' },
  { name: 'type', type: 'string', coveoNames: [], groupable: true, sql: { searches: `'search'`, clicks: `'click'`, others: 'f.type' }, description: 'event type' },
  { name: 'isBot', type: 'boolean', coveoNames: [], groupable: true, tile: 'is_bot', sql: all('f.is_bot'), description: 'flagged as a bot' },
  { name: 'numberOfResults', type: 'number', coveoNames: ['numberOfResults'], groupable: true, sql: { searches: 'f.nr' }, description: 'number of results of a search' },
  { name: 'position', type: 'number', coveoNames: ['documentPosition'], groupable: true, sql: { clicks: 'f.position' }, description: 'clicked position (1-based)' },
  { name: 'responseTime', type: 'number', coveoNames: ['responseTime', 'actionResponseTime'], groupable: false, sql: { searches: 'f.response_ms' }, description: 'search response time (ms)' },
  { name: 'eventType', type: 'string', coveoNames: ['customEventType'], groupable: true, sql: { others: 'f.event_type' }, description: 'custom event type' },
  { name: 'eventValue', type: 'string', coveoNames: ['customEventValue'], groupable: true, sql: { others: 'f.event_value' }, description: 'custom event value' },
  { name: 'user', type: 'string', coveoNames: ['userName'], groupable: true, sql: all(raw('CASE WHEN e.anonymous THEN NULL ELSE e.username END')), description: 'user name (null when anonymous)' },
  { name: 'visitor', type: 'string', coveoNames: ['visitorId'], groupable: true, sql: all('f.visitor_id'), description: 'visitor id' },
  { name: 'visit', type: 'string', coveoNames: ['visitId'], groupable: true, sql: all('f.visit_id::text'), description: 'visit id' },
  {
    name: 'cause', type: 'string', coveoNames: ['searchCauseV2', 'searchCause'], groupable: true,
    sql: { searches: 'f.cause', clicks: raw(`coalesce(e.action_cause, e.extra->>'logType')`), others: raw(`coalesce(e.action_cause, e.extra->>'logType')`) },
    description: 'actionCause, else the Inbenta log type',
  },
  {
    name: 'causeClass', type: 'string', coveoNames: [], groupable: true, tile: 'cause_class',
    sql: { searches: 'f.cause_class', clicks: 'f.cause_class' }, description: 'class of the search (clicks: their search\'s)',
  },
  { name: 'query', type: 'string', coveoNames: ['queryExpression'], groupable: true, sql: { searches: 'f.q', clicks: 'f.q', others: 'f.q' }, description: 'normalized query (clicks, feedback: their search\'s)' },
  {
    name: 'hasResults', type: 'boolean', coveoNames: ['hasResult'], groupable: true, tile: 'has_results',
    sql: { searches: '(f.nr > 0)', clicks: 'f.has_results' }, description: 'numberOfResults > 0 (clicks: their search\'s)',
  },
  {
    name: 'hasClicks', type: 'boolean', coveoNames: ['hasClick'], groupable: true,
    sql: { searches: '(f.clicks > 0)', clicks: '(f.search_id IS NOT NULL)' }, description: 'the search has a bound click',
  },
  { name: 'document', type: 'string', coveoNames: ['contentIdValue'], groupable: true, sql: { clicks: 'f.document', others: 'f.document' }, description: 'coalesce(document_id, document_url)' },
  { name: 'documentTitle', type: 'string', coveoNames: ['documentTitle'], groupable: true, sql: { clicks: 'f.title' }, description: 'clicked document title' },
  { name: 'documentUrl', type: 'string', coveoNames: ['documentUrl'], groupable: true, sql: { clicks: 'f.url' }, description: 'clicked document URL' },
  { name: 'source', type: 'string', coveoNames: ['sourceName'], groupable: true, sql: { clicks: 'f.source' }, description: 'source of the clicked document' },
  {
    name: 'dataKey', type: 'string', coveoNames: [], groupable: true,
    sql: { searches: raw(`e.extra->>'dataKey'`), clicks: raw(`e.extra->>'dataKey'`), others: 'f.data_key' }, description: 'Inbenta session data key',
  },
  { name: 'logType', type: 'string', coveoNames: [], groupable: true, sql: all(raw(`e.extra->>'logType'`)), description: 'Inbenta log type' },
]
const DIMENSIONS: Dimension[] = SPECS.map(columns)

/** Time dimensions: of received_at, in the request's time zone ($TZ is replaced by its literal). */
const TIME_DIMENSIONS: Record<string, { sql: string; coveoNames: string[]; type: DimensionType }> = {
  hour: { sql: `date_trunc('hour', f.received_at, $TZ)`, coveoNames: [], type: 'time' },
  day: { sql: `date_trunc('day', f.received_at, $TZ)`, coveoNames: ['actionDayOfYear'], type: 'time' },
  week: { sql: `date_trunc('week', f.received_at, $TZ)`, coveoNames: [], type: 'time' },
  month: { sql: `date_trunc('month', f.received_at, $TZ)`, coveoNames: [], type: 'time' },
  hourOfDay: { sql: `extract(hour FROM f.received_at AT TIME ZONE $TZ)::int`, coveoNames: [], type: 'number' },
  weekday: { sql: `extract(isodow FROM f.received_at AT TIME ZONE $TZ)::int`, coveoNames: [], type: 'number' },
}

const BY_NAME = new Map<string, Dimension>()
for (const d of DIMENSIONS) {
  BY_NAME.set(d.name.toLowerCase(), d)
  for (const alias of d.coveoNames) BY_NAME.set(alias.toLowerCase(), d)
}

/** Resolve a dimension name (native or Coveo, any case; `c.<key>` / `c_<key>`). */
export function dimension(name: string, tz: string): Dimension {
  const lower = name.toLowerCase()
  const known = BY_NAME.get(lower)
  if (known) return known
  for (const [key, time] of Object.entries(TIME_DIMENSIONS)) {
    if (key.toLowerCase() === lower || time.coveoNames.some((c) => c.toLowerCase() === lower)) {
      const sql = time.sql.replaceAll('$TZ', sqlLiteral(tz))
      return { name: key, type: time.type, coveoNames: time.coveoNames, groupable: true, sql: all(sql), description: `${key} of the event, in the time zone` }
    }
  }
  const custom = /^c[._](.+)$/i.exec(name)
  if (custom) {
    const key = normalizeKey(custom[1]!)
    if (key === '') throw new ReportError('InvalidDimension', `Unknown dimension ${JSON.stringify(name)}`)
    return columns({
      name: `c.${key}`, type: 'string', coveoNames: [`c_${key}`], groupable: true,
      sql: all(raw(`e.custom_data->>${sqlLiteral(key)}`)), description: `customData.${key}`,
    })
  }
  throw new ReportError('InvalidDimension', `Unknown dimension ${JSON.stringify(name)}`, { dimension: name })
}

export function dimensionCatalogue() {
  return [
    ...DIMENSIONS.map((d) => ({ name: d.name, type: d.type, coveoNames: d.coveoNames, groupable: d.groupable, rollup: d.tile !== undefined, description: d.description })),
    ...Object.entries(TIME_DIMENSIONS).map(([name, t]) => ({ name, type: t.type, coveoNames: t.coveoNames, groupable: true, rollup: false, description: `${name} of received_at in the request's time zone` })),
    { name: 'c.<key>', type: 'string' as const, coveoNames: ['c_<key>'], groupable: true, rollup: false, description: 'customData value by normalized key (non-strings as JSON text)' },
  ]
}

/** A literal for values that are never user input (names, checked time zones). */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}
