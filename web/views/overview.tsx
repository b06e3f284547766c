import { Chart, ErrorState, FilterBar, Kpi, Loading, MetaLine, NoDataYet, type Compared } from '../components.js'
import { reportParams, useApi } from '../hooks.js'
import { useLocation } from '../router.js'

const SERIES = [{ key: 'searches' }, { key: 'ctr', ratio: true }, { key: 'noResultRate', ratio: true }]

export function Overview() {
  const { query } = useLocation()
  const params = reportParams(query)
  const kpis = useApi<Record<string, Compared>>('/api/v1/overview', params)
  const series = useApi<{ points: Array<Record<string, unknown>> }>('/api/v1/timeseries', reportParams(query, { metrics: 'searches,ctr,noResultRate', compare: 'none' }))
  // Whether the org has any event at all is asked only when this range has no search.
  const noSearch = kpis.answer?.data.searches?.value === 0
  const status = useApi<{ lastEventAt: string | null }>(noSearch ? '/api/v1/status' : null)
  return (
    <section aria-labelledby="title">
      <h1 id="title">Overview</h1>
      <FilterBar query={query} compare />
      {status.answer && status.answer.data.lastEventAt === null ? <NoDataYet /> : null}
      <MetaLine meta={kpis.answer?.meta} />
      {kpis.error ? <ErrorState error={kpis.error} retry={kpis.reload} /> : kpis.loading ? <Loading what="figures" /> : (
        <div class="kpis">
          {Object.entries(kpis.answer!.data).map(([name, metric]) => <Kpi name={name} metric={metric} key={name} />)}
        </div>
      )}
      {series.error ? <ErrorState error={series.error} retry={series.reload} /> : series.loading ? <Loading what="the series" /> : (
        <Chart points={series.answer!.data.points} series={SERIES} title="Searches, click-through and no-result rate" />
      )}
    </section>
  )
}
