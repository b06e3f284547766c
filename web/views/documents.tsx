import { Bars, CsvButton, ErrorState, FilterBar, Link, Loading, MetaLine, Pager, Table, Tabs } from '../components.js'
import { formatMetric, label } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { BASE, setQuery, useLocation } from '../router.js'
import { queryLink } from './queries.js'

const documentLink = (document: string) => {
  const q = new URLSearchParams(location.search)
  for (const name of ['tab', 'sort', 'dir', 'cursor', 'limit']) q.delete(name)
  q.set('document', document)
  return `${BASE}/documents/detail?${q}`
}

type View = 'top' | 'foundLate' | 'negativeFeedback'
const TABS: Array<[View, string]> = [['top', 'Most clicked'], ['foundLate', 'Found late'], ['negativeFeedback', 'Negative feedback']]

export function Documents() {
  const { query } = useLocation()
  const view = (TABS.some(([v]) => v === query.get('tab')) ? query.get('tab') : 'top') as View
  const params = reportParams(query, { view, orderBy: query.get('sort'), direction: query.get('dir'), limit: query.get('limit') ?? '100', cursor: query.get('cursor') })
  const list = useApi<{ rows: Array<Record<string, unknown>> }>('/api/v1/documents', params)
  return (
    <section aria-labelledby="title">
      <h1 id="title">Documents</h1>
      <FilterBar query={query} />
      <Tabs label="Document lists" tabs={TABS} current={view} onChange={(tab) => setQuery({ tab: tab === 'top' ? null : tab, sort: null, dir: null, cursor: null })} />
      <div id="tabpanel" role="tabpanel" aria-labelledby={`tab-${view}`}>
        <div class="toolbar"><span class="spacer" /><CsvButton path="/api/v1/documents" params={params} filename={`documents-${view}.csv`} /></div>
        <MetaLine meta={list.answer?.meta} />
        {list.error ? <ErrorState error={list.error} retry={list.reload} /> : list.loading ? <Loading what="documents" /> :
          list.answer!.data.rows.length === 0 ? <p class="state">No document in this list for this range{view === 'foundLate' ? ' (a document needs 10 clicks at an average position above 3)' : ''}.</p> : (
            <Table caption={`Documents: ${view}`} query={query} rows={list.answer!.data.rows} serverSort columns={[
              { key: 'title', label: 'Document', render: (r) => <Link href={documentLink(String(r.document))}>{String(r.title ?? r.document)}</Link> },
              { key: 'source', label: 'Source' },
              { key: 'clicks', numeric: true },
              { key: 'searchesLeading', label: 'Searches leading', numeric: true },
              { key: 'averagePosition', label: 'Avg. position', numeric: true },
              { key: 'positive', label: 'Positive', numeric: true },
              { key: 'negative', label: 'Negative', numeric: true },
            ]} />
          )}
        <Pager query={query} nextCursor={list.answer?.meta.nextCursor} />
      </div>
    </section>
  )
}

interface DocumentDetailData {
  document: string
  totals: Record<string, unknown> & { title: string | null; url: string | null; source: string | null }
  series: Array<{ t: string; clicks: number }>
  leadingQueries: Array<{ query: string; clicks: number; averagePosition: number | null }>
  positions: Array<{ position: number; clicks: number }>
}

const TOTALS = ['clicks', 'searchesLeading', 'averagePosition', 'positive', 'negative', 'feedbackPositiveRate']

export function DocumentDetail() {
  const { query } = useLocation()
  const doc = query.get('document') ?? ''
  const detail = useApi<DocumentDetailData>(doc ? '/api/v1/documents/detail' : null, reportParams(query, { document: doc }))
  const d = detail.answer?.data
  const back = new URLSearchParams(query)
  back.delete('document')
  return (
    <section aria-labelledby="title">
      <p class="back"><Link href={`${BASE}/documents${back.toString() ? `?${back}` : ''}`}>← Documents</Link></p>
      <h1 id="title">{d?.totals.title ?? doc}</h1>
      {d?.totals.url && <p><a href={d.totals.url} rel="noreferrer noopener" target="_blank">{d.totals.url}</a>{d.totals.source ? <span class="muted"> · {d.totals.source}</span> : null}</p>}
      <FilterBar query={query} />
      {!doc ? <p class="state">Name a document: pick one in the Documents lists.</p> : detail.error ? <ErrorState error={detail.error} retry={detail.reload} /> : detail.loading || !d ? <Loading what="the document" /> : (
        <>
          <MetaLine meta={detail.answer?.meta} />
          <div class="kpis">
            {TOTALS.map((name) => (
              <div class="kpi" data-metric={name} key={name}><div class="kpi-label">{label(name)}</div><div class="kpi-value">{formatMetric(name, d.totals[name])}</div></div>
            ))}
          </div>
          <div class="grid2">
            <Bars title="Clicks by position" rows={d.positions.map((p) => ({ label: String(p.position), value: p.clicks }))} />
            <Bars title={`Clicks per ${detail.answer?.meta.interval ?? 'interval'}`} rows={d.series.map((p) => ({ label: new Date(p.t).toLocaleDateString('en-GB', { month: 'short', day: 'numeric' }), value: p.clicks }))} />
          </div>
          <h2>Queries that led to it</h2>
          {d.leadingQueries.length === 0 ? <p class="state">No search led to a click on it in this range.</p> : (
            <Table caption="Queries that led to this document" query={query} rows={d.leadingQueries as unknown as Array<Record<string, unknown>>} defaultSort="clicks" columns={[
              { key: 'query', label: 'Query', render: (r) => <Link href={queryLink(String(r.query))}>{String(r.query)}</Link> },
              { key: 'clicks', numeric: true },
              { key: 'averagePosition', label: 'Avg. position', numeric: true },
            ]} />
          )}
        </>
      )}
    </section>
  )
}
