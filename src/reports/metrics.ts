import type { Protocol } from '../events/event.js'
import { ReportError } from './errors.js'
import { histogramQuantile, ratio, round } from './stats.js'

/** Summed measures (measures.ts) of a set of facts. */
export type Sums = Record<string, number> & { ttfc?: number[] | null }

/** Counts over the visits of a range (visit-level metrics are not summable over tiles). */
export interface VisitSums {
  visits: number
  visitors: number
  withSearch: number
  withSearchAndClick: number
  searchesInVisits: number
  withUserSearch: number
  selfService: number
  support: number
  ticket: number
}

/**
 * What a metric needs from the events. Which protocols feed a metric is derived from what each
 * protocol's events carry (PROTOCOL_CAPABILITIES), so a new protocol slots in with one line there.
 */
export type Capability = 'search' | 'click' | 'visit' | 'feedback' | 'support' | 'session'

/**
 * What the events of each protocol carry: searches (with a search id clicks can name), clicks,
 * visits (a visitor the service can follow), feedback, support actions, Inbenta sessions.
 * Record<Protocol, …>: adding a protocol to the data model fails to compile until it is described here.
 */
export const PROTOCOL_CAPABILITIES: Record<Protocol, Capability[]> = {
  coveo: ['search', 'click', 'visit', 'feedback'],
  'coveo-events': ['click', 'visit', 'feedback'],
  workplace: ['click', 'feedback'],
  inbenta: ['search', 'click', 'visit', 'feedback', 'support', 'session'],
  // App Search clicks name their search (request_id); the searches themselves come from elsewhere.
  'app-search': ['click'],
  // Behavioral Analytics searches and visits count; its clicks name no search id, so they cannot be
  // bound to a search (they count as clicks, not towards click-through).
  'behavioral-analytics': ['search', 'visit'],
}

export type Unit = 'count' | 'ratio' | 'ms' | 'position' | 'perSearch' | 'perVisit' | 'score'

export interface MetricDefinition {
  name: string
  displayName: string
  formula: string
  unit: Unit
  higherIsBetter: boolean | null
  summable: boolean
  coveoNames: string[]
  needs: Capability[]
  /** 'facts': from summed measures; 'visits': from visit counts. */
  source: 'facts' | 'visits'
  value(s: Sums, v: VisitSums): number | null
  /** For ratios: successes and trials (confidence interval, significance). */
  proportion?(s: Sums, v: VisitSums): [number, number]
}

const n = (s: Sums, name: string) => s[name] ?? 0

function facts(
  name: string, displayName: string, formula: string, unit: Unit, needs: Capability[], value: (s: Sums) => number | null,
  extra: Partial<MetricDefinition> = {},
): MetricDefinition {
  return {
    name, displayName, formula, unit, needs, source: 'facts', value: (s) => value(s),
    higherIsBetter: null, summable: unit === 'count', coveoNames: [], ...extra,
  }
}

function visits(
  name: string, displayName: string, formula: string, unit: Unit, needs: Capability[], value: (v: VisitSums) => number | null,
  extra: Partial<MetricDefinition> = {},
): MetricDefinition {
  return { name, displayName, formula, unit, needs, source: 'visits', value: (_s, v) => value(v), higherIsBetter: null, summable: false, coveoNames: [], ...extra }
}

const SEARCH: Capability[] = ['search']
const SEARCH_CLICK: Capability[] = ['search', 'click']
const VISITS: Capability[] = ['search', 'visit']

export const METRICS: MetricDefinition[] = [
  facts('searchEvents', 'Search events', 'every search event, partial searches included', 'count', SEARCH, (s) => n(s, 'search_events'), { coveoNames: ['PerformSearch'] }),
  facts('searches', 'Searches', '#S: search events that are not partial (as-you-type keystrokes followed within 10 s by a longer or shorter query)', 'count', SEARCH, (s) => n(s, 'searches')),
  facts('userSearches', 'User searches', '#U: searches of S that are manual or as-you-type with a non-empty query', 'count', SEARCH, (s) => n(s, 'user_searches'), { coveoNames: ['ManualQuery'], higherIsBetter: true }),
  facts('refinementSearches', 'Refinement searches', '#{s ∈ S : class refinement}', 'count', SEARCH, (s) => n(s, 'refinement_searches'), { coveoNames: ['RefinementQuery'] }),
  facts('searchesWithClick', 'Searches with a click', '#{s ∈ T : s has a bound click}, T = searches of S with a search id', 'count', SEARCH_CLICK, (s) => n(s, 't_clicked'), { coveoNames: ['SearchWithClick'], higherIsBetter: true }),
  facts('ctr', 'Click-through rate', 'searchesWithClick / #T', 'ratio', SEARCH_CLICK, (s) => ratio(n(s, 't_clicked'), n(s, 't_searches')), {
    coveoNames: ['ClickThroughRatio'], higherIsBetter: true, proportion: (s) => [n(s, 't_clicked'), n(s, 't_searches')],
  }),
  facts('clicks', 'Clicks', 'click events, at the time of the click', 'count', ['click'], (s) => n(s, 'clicks'), { coveoNames: ['DocumentView'], higherIsBetter: true }),
  facts('clicksPerSearch', 'Clicks per search', 'Σ over T of bound clicks / #T', 'perSearch', SEARCH_CLICK, (s) => ratio(n(s, 't_clicks'), n(s, 't_searches'))),
  facts('averageClickRank', 'Average click rank', 'mean position of clicks with a position ≥ 1, bound or not', 'position', ['click'], (s) => ratio(n(s, 'pos_sum'), n(s, 'pos_count')), {
    coveoNames: ['AverageClickRank'], higherIsBetter: false,
  }),
  facts('meanReciprocalRank', 'Mean reciprocal rank', 'Σ over T of 1 / (best clicked position), 0 without a click / #T', 'ratio', SEARCH_CLICK, (s) => ratio(n(s, 't_rr'), n(s, 't_searches')), { higherIsBetter: true }),
  facts('noResultSearches', 'Searches without results', '#{u ∈ U : numberOfResults = 0}', 'count', SEARCH, (s) => n(s, 'u_no_results'), { higherIsBetter: false }),
  facts('noResultRate', 'No-result rate', 'noResultSearches / #{u ∈ U : numberOfResults known}', 'ratio', SEARCH, (s) => ratio(n(s, 'u_no_results'), n(s, 'u_nr_known')), {
    higherIsBetter: false, proportion: (s) => [n(s, 'u_no_results'), n(s, 'u_nr_known')],
  }),
  facts('clickedUserSearches', 'User searches with a click', '#{u ∈ U : a click is bound to a search of chain(u)}; chain(u) = u and the searches of S after it in its visit up to the next member of U', 'count', SEARCH_CLICK, (s) => n(s, 'u_clicked_chain'), { higherIsBetter: true }),
  facts('userSearchCtr', 'User search click-through', 'clickedUserSearches / #U', 'ratio', SEARCH_CLICK, (s) => ratio(n(s, 'u_clicked_chain'), n(s, 'user_searches')), {
    higherIsBetter: true, proportion: (s) => [n(s, 'u_clicked_chain'), n(s, 'user_searches')],
  }),
  facts('abandonmentRate', 'Abandonment rate', '#{u ∈ U_v : no click in chain(u), no later member of U in the visit} / #U_v; U_v = members of U in a visit', 'ratio', VISITS, (s) => ratio(n(s, 'uv_abandoned'), n(s, 'uv')), {
    higherIsBetter: false, proportion: (s) => [n(s, 'uv_abandoned'), n(s, 'uv')],
  }),
  facts('reformulationRate', 'Reformulation rate', '#{u ∈ U_v : no click in chain(u), the next member of U has another query and comes ≤ 5 min after chain(u) ends} / #U_v', 'ratio', VISITS, (s) => ratio(n(s, 'uv_reformulated'), n(s, 'uv')), {
    higherIsBetter: false, proportion: (s) => [n(s, 'uv_reformulated'), n(s, 'uv')],
  }),
  facts('timeToFirstClick', 'Time to first click (median)', 'median of (first bound click − search) over clicked s ∈ T, ≤ 30 min, negative as 0; from a fixed histogram, interpolated linearly within a bin', 'ms', SEARCH_CLICK, (s) => histogramQuantile(s.ttfc, 0.5), { higherIsBetter: false }),
  facts('timeToFirstClickP90', 'Time to first click (90th percentile)', 'as timeToFirstClick, 90th percentile', 'ms', SEARCH_CLICK, (s) => histogramQuantile(s.ttfc, 0.9), { higherIsBetter: false }),
  facts('averageResponseTime', 'Average response time', 'mean known response time over S', 'ms', SEARCH, (s) => ratio(n(s, 'rt_sum'), n(s, 'rt_count')), {
    coveoNames: ['average(actionresponsetime)'], higherIsBetter: false,
  }),
  facts('feedbackPositive', 'Positive feedback', 'feedback events with a positive sign', 'count', ['feedback'], (s) => n(s, 'fb_positive')),
  facts('feedbackNegative', 'Negative feedback', 'feedback events with a negative sign', 'count', ['feedback'], (s) => n(s, 'fb_negative'), { higherIsBetter: false }),
  facts('feedbackPositiveRate', 'Positive feedback rate', 'positive / (positive + negative)', 'ratio', ['feedback'], (s) => ratio(n(s, 'fb_positive'), n(s, 'fb_positive') + n(s, 'fb_negative')), {
    higherIsBetter: true, proportion: (s) => [n(s, 'fb_positive'), n(s, 'fb_positive') + n(s, 'fb_negative')],
  }),
  visits('visits', 'Visits', 'distinct visits with an event in the range (a visit ends after 30 minutes without events)', 'count', ['visit'], (v) => v.visits, { coveoNames: ['UniqueVisit'] }),
  visits('visitors', 'Visitors', 'distinct visitors with an event in the range', 'count', ['visit'], (v) => v.visitors, { coveoNames: ['UniqueVisitorById'] }),
  visits('visitClickThrough', 'Visit click-through', 'visits with a search of S and a click / visits with a search of S', 'ratio', VISITS, (v) => ratio(v.withSearchAndClick, v.withSearch), {
    higherIsBetter: true, proportion: (_s, v) => [v.withSearchAndClick, v.withSearch],
  }),
  visits('searchesPerVisit', 'Searches per visit', 'searches of S in visits / visits with a search of S', 'perVisit', VISITS, (v) => ratio(v.searchesInVisits, v.withSearch)),
  visits('selfServiceRate', 'Self-service rate', 'visits with a member of U and a click and no support event after the first click / visits with a member of U', 'ratio', VISITS, (v) => ratio(v.selfService, v.withUserSearch), {
    higherIsBetter: true, proportion: (_s, v) => [v.selfService, v.withUserSearch],
  }),
  visits('deflectionRate', 'Deflection rate', 'support visits without a ticket event / support visits (support: the org\'s support setting, or Inbenta CONTACT_* data keys)', 'ratio', ['support'], (v) => ratio(v.support - v.ticket, v.support), {
    higherIsBetter: true, proportion: (_s, v) => [v.support - v.ticket, v.support],
  }),
]

/** Per-query metrics that only the queries reports compute (not on time series). */
export const QUERY_ONLY_METRICS = [
  { name: 'distinctQueries', formula: 'distinct normalized queries over U', unit: 'count', coveoNames: ['countDistinct(queryexpression)'], needs: SEARCH },
  { name: 'opportunity', formula: '#U_q × (1 − wilsonLow(clickedUserSearches_q, #U_q)), per query', unit: 'score', coveoNames: [], needs: SEARCH_CLICK },
  { name: 'sessionDeflectionRate', formula: 'contact sessions whose result is not a ticket key / contact sessions (Inbenta sessions with a CONTACT_* key; result = the session\'s highest-priority action)', unit: 'ratio', coveoNames: [], needs: ['session'] as Capability[] },
] as const

const BY_NAME = new Map(METRICS.map((m) => [m.name.toLowerCase(), m]))
for (const m of METRICS) for (const alias of m.coveoNames) BY_NAME.set(alias.toLowerCase(), m)

export function metric(name: string): MetricDefinition {
  const m = BY_NAME.get(name.toLowerCase())
  if (!m) throw new ReportError('InvalidMetric', `Unknown metric ${JSON.stringify(name)}: GET /api/v1/metrics lists them`, { metric: name })
  return m
}

export function parseMetrics(list: string[], fallback: string[]): MetricDefinition[] {
  const names = list.flatMap((m) => m.split(',')).map((m) => m.trim()).filter((m) => m !== '')
  return (names.length > 0 ? names : fallback).map(metric)
}

export function protocolsFeeding(needs: readonly Capability[]): string[] {
  return (Object.keys(PROTOCOL_CAPABILITIES) as Protocol[]).filter((p) => needs.every((c) => PROTOCOL_CAPABILITIES[p].includes(c)))
}

export function metricCatalogue() {
  return [
    ...METRICS.map((m) => ({
      name: m.name, displayName: m.displayName, formula: m.formula, unit: m.unit, higherIsBetter: m.higherIsBetter,
      summable: m.summable, coveoNames: m.coveoNames, protocols: protocolsFeeding(m.needs),
    })),
    ...QUERY_ONLY_METRICS.map((m) => ({
      name: m.name, displayName: m.name, formula: m.formula, unit: m.unit, higherIsBetter: m.name !== 'opportunity' ? true : null,
      summable: false, coveoNames: [...m.coveoNames], protocols: protocolsFeeding(m.needs),
    })),
  ]
}

export interface MetricValue {
  value: number | null
  reason?: 'empty' | 'notMeasurable'
  previous?: number | null
  change?: number | null
  delta?: number | null
  ci95?: [number, number] | null
  significant?: boolean | null
}

/**
 * Why a metric is null: `notMeasurable` when the range holds events only from protocols that
 * cannot feed it (or, for deflection, no support is configured); else `empty`.
 */
export function nullReason(m: MetricDefinition, protocolsPresent: string[], supportConfigured: boolean): 'empty' | 'notMeasurable' {
  if (m.needs.includes('support') && !supportConfigured && !protocolsPresent.includes('inbenta')) return 'notMeasurable'
  if (protocolsPresent.length === 0) return 'empty'
  const feeding = protocolsFeeding(m.needs.filter((c) => c !== 'support'))
  return protocolsPresent.some((p) => feeding.includes(p)) ? 'empty' : 'notMeasurable'
}

export function change(value: number | null, previous: number | null): number | null {
  return value === null || previous === null || previous === 0 ? null : round((value - previous) / previous)
}
