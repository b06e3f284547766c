import { Pager, CsvButton, ErrorState, FilterBar, Loading, MetaLine, Table, Tabs } from '../components.js'
import { reportParams, useApi } from '../hooks.js'
import { setQuery, useLocation } from '../router.js'

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
              { key: 'title', label: 'Document', render: (r) => r.url ? <a href={String(r.url)} rel="noreferrer noopener" target="_blank">{String(r.title ?? r.document)}</a> : String(r.title ?? r.document) },
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
