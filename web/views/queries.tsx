import { useEffect, useState } from 'preact/hooks'
import { Bars, Chart, Pager, CsvButton, ErrorState, FilterBar, Link, Loading, MetaLine, Table, Tabs, type Column } from '../components.js'
import { formatMetric, label } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { BASE, setQuery, useLocation } from '../router.js'

type View = 'top' | 'noResults' | 'noClicks' | 'lowCtr' | 'trending'
const TABS: Array<[View, string]> = [['top', 'Top'], ['noResults', 'No results'], ['noClicks', 'No clicks'], ['lowCtr', 'Low CTR'], ['trending', 'Trending']]
type Row = Record<string, unknown> & { query: string; display: string }

export const queryLink = (query: string) => {
  const q = new URLSearchParams(location.search)
  for (const name of ['tab', 'sort', 'dir', 'q', 'cursor']) q.delete(name)
  q.set('query', query)
  return `${BASE}/queries/detail?${q}`
}

export function Queries() {
  const { query } = useLocation()
  const view = (TABS.some(([v]) => v === query.get('tab')) ? query.get('tab') : 'top') as View
  const [search, setSearch] = useState(query.get('q') ?? '')
  useEffect(() => setSearch(query.get('q') ?? ''), [query.get('q')])
  const params = reportParams(query, {
    view, queryContains: query.get('q'), orderBy: query.get('sort'), direction: query.get('dir'), limit: query.get('limit') ?? '100', cursor: query.get('cursor'),
  })
  const list = useApi<{ rows: Row[] }>('/api/v1/queries', params)
  const columns: Array<Column<Row>> = [
    { key: 'display', label: 'Query', render: (r) => <Link href={queryLink(r.query)}>{r.display || r.query}</Link> },
    { key: 'userSearches', numeric: true },
    ...(view === 'trending' ? [{ key: 'previousUserSearches', numeric: true }, { key: 'trendScore', numeric: true }] : []),
    { key: 'searches', numeric: true },
    { key: 'ctr', numeric: true },
    { key: 'noResultRate', numeric: true },
    { key: 'clicks', numeric: true },
    { key: 'averageClickRank', numeric: true },
    { key: 'visitors', numeric: true },
  ]
  return (
    <section aria-labelledby="title">
      <h1 id="title">Queries</h1>
      <FilterBar query={query} compare={view === 'trending'} />
      <Tabs label="Query lists" tabs={TABS} current={view} onChange={(tab) => setQuery({ tab: tab === 'top' ? null : tab, sort: null, dir: null, cursor: null })} />
      <div id="tabpanel" role="tabpanel" aria-labelledby={`tab-${view}`}>
        <form class="toolbar" role="search" onSubmit={(e) => { e.preventDefault(); setQuery({ q: search.trim() || null, cursor: null }) }}>
          <label>Queries containing <input type="search" name="q" value={search} onInput={(e) => setSearch(e.currentTarget.value)} /></label>
          <button type="submit">Search</button>
          <span class="spacer" />
          <CsvButton path="/api/v1/queries" params={params} filename={`queries-${view}.csv`} />
        </form>
        <MetaLine meta={list.answer?.meta} />
        {list.error ? <ErrorState error={list.error} retry={list.reload} /> : list.loading ? <Loading what="queries" /> :
          list.answer!.data.rows.length === 0 ? <p class="state">No query in this list for this range and filter.</p> : (
            <>
              <Table caption={`Queries: ${view}`} columns={columns} rows={list.answer!.data.rows} query={query} serverSort />
              <Pager query={query} nextCursor={list.answer!.meta.nextCursor} />
            </>
          )}
      </div>
    </section>
  )
}

interface Detail {
  query: string
  display: string
  totals: Record<string, number | null>
  series: Array<Record<string, unknown>>
  clickPositions: Array<{ from: number; to: number | null; clicks: number }>
  documents: Array<{ document: string; clicks: number; averagePosition: number | null }>
  nextQueries: Array<{ query: string; count: number; ledToClick: number | null }>
  refinements: Array<{ cause: string; count: number }>
}

function withoutQuery(query: URLSearchParams): string {
  const q = new URLSearchParams(query)
  q.delete('query')
  const text = q.toString()
  return `${BASE}/queries${text ? `?${text}` : ''}`
}

const TOTALS = ['userSearches', 'searches', 'ctr', 'noResultRate', 'averageClickRank', 'abandonmentRate', 'reformulationRate', 'timeToFirstClick']

export function QueryDetail() {
  const { query } = useLocation()
  const q = query.get('query') ?? ''
  const detail = useApi<Detail>(q ? '/api/v1/queries/detail' : null, reportParams(query, { query: q }))
  const d = detail.answer?.data
  return (
    <section aria-labelledby="title">
      <p class="back"><Link href={withoutQuery(query)}>← Queries</Link></p>
      <h1 id="title">Query “{d?.display || q}”</h1>
      <FilterBar query={query} />
      {!q ? <p class="state">Name a query: pick one in the Queries lists.</p> : detail.error ? <ErrorState error={detail.error} retry={detail.reload} /> : detail.loading || !d ? <Loading what="the query" /> : (
        <>
          <MetaLine meta={detail.answer?.meta} />
          <div class="kpis">
            {TOTALS.map((name) => (
              <div class="kpi" data-metric={name} key={name}><div class="kpi-label">{label(name)}</div><div class="kpi-value">{formatMetric(name, d.totals[name])}</div></div>
            ))}
          </div>
          <Chart points={d.series} series={[{ key: 'userSearches' }, { key: 'ctr', ratio: true }]} title="User searches and click-through" />
          <div class="grid2">
            <Bars title="Clicks by position" rows={d.clickPositions.map((b) => ({ label: b.to === b.from ? String(b.from) : b.to === null ? `${b.from}+` : `${b.from}–${b.to}`, value: b.clicks }))} />
            <div>
              <h2>Clicked documents</h2>
              {d.documents.length === 0 ? <p class="state">No click on a result of this query.</p> : (
                <Table caption="Clicked documents" query={query} rows={d.documents} defaultSort="clicks"
                  columns={[{ key: 'document', label: 'Document' }, { key: 'clicks', numeric: true }, { key: 'averagePosition', label: 'Avg. position', numeric: true }]} />
              )}
            </div>
          </div>
          <h2>Next queries</h2>
          {d.nextQueries.length === 0 ? <p class="state">Nobody searched something else after this query.</p> : (
            <Table caption="Next queries" query={query} rows={d.nextQueries} defaultSort="count"
              columns={[{ key: 'query', label: 'Next query', render: (r) => <Link href={queryLink(r.query)}>{r.query}</Link> }, { key: 'count', label: 'Times', numeric: true }, { key: 'ledToClick', label: 'Led to a click', numeric: true }]} />
          )}
          {d.refinements.length > 0 && (
            <>
              <h2>Refinements</h2>
              <Table caption="Refinements" query={query} rows={d.refinements} columns={[{ key: 'cause', label: 'Cause' }, { key: 'count', label: 'Searches', numeric: true }]} />
            </>
          )}
        </>
      )}
    </section>
  )
}
