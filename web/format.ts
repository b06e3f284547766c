// How each metric reads: the reports API's units (GET /api/v1/metrics) mapped to display.
const RATIOS = /(Rate|^ctr|Ctr|meanReciprocalRank|share|ledToClick)$/
const DURATIONS = /^(timeToFirstClick|timeToFirstClickP90|averageResponseTime)$/
const POSITIONS = /^(averageClickRank|averagePosition)$/

export const LABELS: Record<string, string> = {
  searches: 'Searches', userSearches: 'User searches', searchEvents: 'Search events', refinementSearches: 'Refinements',
  ctr: 'Click-through', noResultRate: 'No-result rate', averageClickRank: 'Avg. click rank', abandonmentRate: 'Abandonment',
  reformulationRate: 'Reformulation', timeToFirstClick: 'Time to first click', visits: 'Visits', visitors: 'Visitors',
  deflectionRate: 'Deflection', feedbackPositiveRate: 'Positive feedback', clicks: 'Clicks', noResultSearches: 'No-result searches',
  searchesWithClick: 'Searches with a click', averageResponseTime: 'Avg. response time', userSearchCtr: 'User search CTR',
  clicksPerSearch: 'Clicks per search', meanReciprocalRank: 'Mean reciprocal rank', opportunity: 'Opportunity',
  previousUserSearches: 'Previous', trendScore: 'Trend', avgResults: 'Avg. results', clickedUserSearches: 'Clicked user searches',
  searchesLeading: 'Searches leading', positive: 'Positive', negative: 'Negative',
  selfServiceRate: 'Self-service rate', sessionDeflectionRate: 'Session deflection',
}

export const label = (name: string) => LABELS[name] ?? name

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 2 })

export function formatMetric(name: string, value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (typeof value !== 'number') return String(value)
  if (RATIOS.test(name)) return `${(value * 100).toFixed(1)} %`
  if (DURATIONS.test(name)) return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${integer.format(value)} ms`
  if (POSITIONS.test(name) || !Number.isInteger(value)) return decimal.format(value)
  return integer.format(value)
}

/** Lower is better for these: a rise is shown as bad. */
export const LOWER_IS_BETTER = new Set(['noResultRate', 'abandonmentRate', 'reformulationRate', 'averageClickRank', 'timeToFirstClick', 'averageResponseTime', 'noResultSearches'])

export function formatChange(change: number | null | undefined): string {
  if (change === null || change === undefined) return ''
  const sign = change > 0 ? '+' : change < 0 ? '−' : '±'
  return `${sign}${Math.abs(change * 100).toFixed(1)} %`
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' })
}
