import type { VisitSums } from './metrics.js'

/**
 * Summable measures: what tiles store and what every metric is computed from. Each measure is one
 * SQL expression per fact table, evaluated per fact row: tiles sum them by hour, and reports sum
 * them over tiles and over the facts of hours without a clean tile. One definition serves both
 * paths, so a figure cannot depend on which path answered.
 */

export type FactTable = 'searches' | 'clicks' | 'others'

export const FACT_TABLES: Record<FactTable, string> = {
  searches: 'report_searches',
  clicks: 'report_clicks',
  others: 'report_others',
}

/** Upper bounds (ms) of the time-to-first-click histogram bins; the first bin starts at 0. */
export const TTFC_BOUNDS = [250, 500, 1000, 2000, 3000, 5000, 8000, 13000, 20000, 30000, 45000, 60000, 90000, 120000, 180000, 300000, 600000, 1800000]

export interface Measure {
  name: string
  /** SQL type of the tile column. */
  type: 'integer' | 'bigint' | 'double precision'
  /** Per-row expression for each fact table; absent = 0. */
  searches?: string
  clicks?: string
  others?: string
}

const S = 'NOT partial'
const T = `${S} AND uid IS NOT NULL`
const TTFC = TTFC_BOUNDS.map((upper, i) => {
  const lower = i === 0 ? 0 : TTFC_BOUNDS[i - 1]!
  // ≤ 30 min only; a click before its search (clock skew) counts as 0.
  return i === TTFC_BOUNDS.length - 1
    ? `(greatest(first_click_ms, 0) >= ${lower} AND greatest(first_click_ms, 0) <= ${upper})::int`
    : `(greatest(first_click_ms, 0) >= ${lower} AND greatest(first_click_ms, 0) < ${upper})::int`
})

export const MEASURES: Measure[] = [
  { name: 'facts', type: 'integer', searches: '1', clicks: '1', others: '1' },
  { name: 'search_events', type: 'integer', searches: '1' },
  { name: 'searches', type: 'integer', searches: `(${S})::int` },
  { name: 'user_searches', type: 'integer', searches: 'is_user::int' },
  { name: 'refinement_searches', type: 'integer', searches: `(${S} AND cause_class = 'refinement')::int` },
  { name: 't_searches', type: 'integer', searches: `(${T})::int` },
  { name: 't_clicked', type: 'integer', searches: `(${T} AND clicks > 0)::int` },
  { name: 't_clicks', type: 'integer', searches: `CASE WHEN ${T} THEN clicks ELSE 0 END` },
  { name: 't_rr', type: 'double precision', searches: `CASE WHEN ${T} AND min_position >= 1 THEN 1.0 / min_position ELSE 0 END` },
  { name: 'u_nr_known', type: 'integer', searches: '(is_user AND nr IS NOT NULL)::int' },
  { name: 'u_no_results', type: 'integer', searches: '(is_user AND nr = 0)::int' },
  { name: 'u_clicked_chain', type: 'integer', searches: '(is_user AND chain_clicked)::int' },
  { name: 'uv', type: 'integer', searches: '(is_user AND visit_id IS NOT NULL)::int' },
  { name: 'uv_abandoned', type: 'integer', searches: '(is_user AND visit_id IS NOT NULL AND abandoned)::int' },
  { name: 'uv_reformulated', type: 'integer', searches: '(is_user AND visit_id IS NOT NULL AND reformulated)::int' },
  { name: 'rt_sum', type: 'bigint', searches: `CASE WHEN ${S} THEN coalesce(response_ms, 0) ELSE 0 END` },
  { name: 'rt_count', type: 'integer', searches: `(${S} AND response_ms IS NOT NULL)::int` },
  // The time-to-first-click histogram, one column per bin: plain sums (an array summed
  // elementwise by a SQL function cost a subquery per tile row).
  ...TTFC.map((bin, i): Measure => ({ name: `ttfc_${i}`, type: 'integer', searches: `CASE WHEN ${T} AND first_click_ms IS NOT NULL THEN ${bin} ELSE 0 END` })),
  { name: 'clicks', type: 'integer', clicks: '1' },
  { name: 'pos_sum', type: 'bigint', clicks: 'CASE WHEN position >= 1 THEN position ELSE 0 END' },
  { name: 'pos_count', type: 'integer', clicks: '(position >= 1)::int' },
  { name: 'fb_positive', type: 'integer', others: '(score > 0)::int' },
  { name: 'fb_negative', type: 'integer', others: '(score < 0)::int' },
  { name: 'fb_neutral', type: 'integer', others: '(score = 0)::int' },
]

/** The per-row expression of a measure on a fact table (0, or NULL for arrays, when it does not apply). */
export function measureExpression(measure: Measure, table: FactTable): string {
  const expression = measure[table]
  // A comparison with a missing value is NULL: it counts as "no" (0), never as a missing sum.
  return expression === undefined ? '0' : `coalesce((${expression}), 0)`
}

export function sumOf(_measure: Measure, expression: string): string {
  return `sum(${expression})`
}

/** The histogram bins of summed measures, as an array. */
export function ttfcBins(sums: Record<string, number | unknown>): number[] {
  return TTFC_BOUNDS.map((_b, i) => Number(sums[`ttfc_${i}`] ?? 0))
}

/** Dimensions stored in tiles, with their expression on each fact table. */
export const TILE_DIMENSIONS: Record<string, Record<FactTable, string>> = {
  hub: { searches: 'hub', clicks: 'hub', others: 'hub' },
  tab: { searches: 'tab', clicks: 'tab', others: 'tab' },
  language: { searches: 'language', clicks: 'language', others: 'language' },
  device: { searches: 'device', clicks: 'device', others: 'device' },
  protocol: { searches: 'protocol', clicks: 'protocol', others: 'protocol' },
  cause_class: { searches: 'cause_class', clicks: 'cause_class', others: 'NULL::text' },
  has_results: { searches: '(nr > 0)', clicks: 'has_results', others: 'NULL::boolean' },
  is_bot: { searches: 'is_bot', clicks: 'is_bot', others: 'is_bot' },
}

/**
 * Per-query sums: what query day tiles store and what the query lists rank by. Each is one
 * expression per search fact and per click fact (clicks give the click ranks of their search's
 * query). Visitors and the display form are not sums; a list reads them from facts for the rows
 * of its page only.
 */
export interface QueryMeasure {
  name: string
  type: 'integer' | 'bigint' | 'numeric'
  searches: string
  clicks: string
}

export const QUERY_MEASURES: QueryMeasure[] = [
  { name: 'search_events', type: 'integer', searches: '1', clicks: '0' },
  { name: 'searches', type: 'integer', searches: `(${S})::int`, clicks: '0' },
  { name: 'user_searches', type: 'integer', searches: 'is_user::int', clicks: '0' },
  { name: 'refinement_searches', type: 'integer', searches: `(${S} AND cause_class = 'refinement')::int`, clicks: '0' },
  { name: 't_searches', type: 'integer', searches: `(${T})::int`, clicks: '0' },
  { name: 't_clicked', type: 'integer', searches: `(${T} AND clicks > 0)::int`, clicks: '0' },
  { name: 't_clicks', type: 'integer', searches: `CASE WHEN ${T} THEN clicks ELSE 0 END`, clicks: '0' },
  { name: 't_rr', type: 'numeric', searches: `CASE WHEN ${T} AND min_position >= 1 THEN 1.0 / min_position ELSE 0 END`, clicks: '0' },
  { name: 'u_nr_known', type: 'integer', searches: '(is_user AND nr IS NOT NULL)::int', clicks: '0' },
  { name: 'u_no_results', type: 'integer', searches: '(is_user AND nr = 0)::int', clicks: '0' },
  { name: 'u_nr_sum', type: 'bigint', searches: 'CASE WHEN is_user AND nr IS NOT NULL THEN nr ELSE 0 END', clicks: '0' },
  { name: 'u_clicked_chain', type: 'integer', searches: '(is_user AND chain_clicked)::int', clicks: '0' },
  { name: 'uv', type: 'integer', searches: '(is_user AND visit_id IS NOT NULL)::int', clicks: '0' },
  { name: 'uv_abandoned', type: 'integer', searches: '(is_user AND visit_id IS NOT NULL AND abandoned)::int', clicks: '0' },
  { name: 'uv_reformulated', type: 'integer', searches: '(is_user AND visit_id IS NOT NULL AND reformulated)::int', clicks: '0' },
  { name: 'rt_sum', type: 'bigint', searches: `CASE WHEN ${S} THEN coalesce(response_ms, 0) ELSE 0 END`, clicks: '0' },
  { name: 'rt_count', type: 'integer', searches: `(${S} AND response_ms IS NOT NULL)::int`, clicks: '0' },
  { name: 'pos_sum', type: 'bigint', searches: '0', clicks: 'CASE WHEN position >= 1 THEN position ELSE 0 END' },
  { name: 'pos_count', type: 'integer', searches: '0', clicks: '(position >= 1)::int' },
]

/** A per-query measure's value on one fact row (an unknown, such as a search's missing result count, is 0). */
export function queryExpression(m: QueryMeasure, table: 'searches' | 'clicks'): string {
  return `coalesce((${m[table]}), 0)`
}

/** The sum of a per-query measure's `value` (a tile column or `queryExpression`), typed as the lists read it. */
export function querySum(m: QueryMeasure, value: string): string {
  return m.type === 'numeric' ? `coalesce(sum(${value}), 0)::float8` : `coalesce(sum(${value}), 0)::${m.type === 'bigint' ? 'bigint' : 'int'}`
}

/**
 * Per-document sums: what document day tiles store and what the documents report ranks by, one
 * expression per click fact and per feedback fact (others with a document and a score). The
 * searches leading to a document and its latest title, URL and source are not sums; a page reads
 * them from facts for its rows only.
 */
export const DOCUMENT_MEASURES: Array<{ name: string; clicks: string; others: string }> = [
  { name: 'clicks', clicks: '1', others: '0' },
  { name: 'pos_sum', clicks: 'CASE WHEN position >= 1 THEN position ELSE 0 END', others: '0' },
  { name: 'pos_count', clicks: '(position >= 1)::int', others: '0' },
  { name: 'feedback', clicks: '0', others: '1' },
  { name: 'positive', clicks: '0', others: '(score > 0)::int' },
  { name: 'negative', clicks: '0', others: '(score < 0)::int' },
]

/** The facts a document measure counts: clicks and scored feedback naming a document. */
export const DOCUMENT_FACTS = { clicks: 'document IS NOT NULL', others: 'document IS NOT NULL AND score IS NOT NULL' } as const

/** A per-document measure's value on one fact row (a missing position or score counts 0). */
export function documentExpression(m: (typeof DOCUMENT_MEASURES)[number], table: 'clicks' | 'others'): string {
  return `coalesce((${m[table]}), 0)`
}

/** The facts content gaps count (search facts `alias`): user searches without results. */
export function gapFacts(alias: string): string {
  return `${alias}.is_user AND ${alias}.nr = 0`
}

/**
 * Visit measures: one expression per visit row (`v`, report_visits), summed over the visits of a
 * range, and per UTC day of their first event into visit day tiles (report_visit_days). Visitors
 * are a distinct count, not a sum: a visit day tile keeps the day's visitor ids as 64-bit hashes
 * (`visitorHash`), and a range counts the distinct hashes of its days and of its other visits.
 */
export const VISIT_MEASURES: Array<{ name: string; field: keyof Omit<VisitSums, 'visitors'>; expression: string }> = [
  { name: 'visits', field: 'visits', expression: '1' },
  { name: 'with_search', field: 'withSearch', expression: '(v.searches > 0)::int' },
  { name: 'with_search_click', field: 'withSearchAndClick', expression: '(v.searches > 0 AND v.clicks > 0)::int' },
  { name: 'searches_in_visits', field: 'searchesInVisits', expression: 'v.searches' },
  { name: 'with_user', field: 'withUserSearch', expression: '(v.user_searches > 0)::int' },
  { name: 'self_service', field: 'selfService', expression: 'v.self_service::int' },
  { name: 'support', field: 'support', expression: 'v.support::int' },
  { name: 'ticket', field: 'ticket', expression: 'v.ticket::int' },
]

/**
 * A visitor id as the 64-bit hash visit day tiles keep: two ids share one about once in 10^19
 * pairs, so a count of distinct hashes is the count of distinct ids for any real number of them.
 */
export function visitorHash(column: string): string {
  return `hashtextextended(${column}, 0)`
}
