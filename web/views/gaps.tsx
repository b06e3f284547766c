import { useState } from 'preact/hooks'
import { ErrorState, FilterBar, Link, Loading, MetaLine, Table } from '../components.js'
import { formatTime } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { setQuery, useLocation } from '../router.js'
import { queryLink } from './queries.js'

interface Cluster { key: string; display: string; queries: Array<{ query: string; searches: number }>; noResultSearches: number; visitors: number; firstSeen: string; newThisPeriod: boolean }
interface Rescue { failedQuery: string; rescueQuery: string; count: number; share: number }

function CopySynonym({ rescue }: { rescue: Rescue }) {
  const [done, setDone] = useState<string | null>(null)
  // Solr/Elasticsearch synonym syntax, the form most search engines import.
  const text = `${rescue.failedQuery} => ${rescue.rescueQuery}`
  return (
    <>
      <button type="button" class="small" aria-label={`Copy as synonym: ${text}`} onClick={() => {
        navigator.clipboard.writeText(text).then(() => setDone('Copied'), () => setDone('Copy refused by the browser'))
      }}>Copy as synonym</button>
      <span role="status" class="muted">{done ? ` ${done}` : ''}</span>
    </>
  )
}

export function ContentGaps() {
  const { query } = useLocation()
  const gaps = useApi<{ clusters: Cluster[]; rescues: Rescue[] }>('/api/v1/content-gaps', reportParams(query, { minSearches: query.get('minSearches') }))
  const d = gaps.answer?.data
  const [min, setMin] = useState(query.get('minSearches') ?? '2')
  return (
    <section aria-labelledby="title">
      <h1 id="title">Content gaps</h1>
      <p class="muted">Searches that found nothing, grouped by what they ask for, and what visitors searched next that worked.</p>
      <FilterBar query={query} />
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); setQuery({ minSearches: min === '2' ? null : min }) }}>
        <label>Gaps of at least <input name="minSearches" type="number" min={1} step={1} value={min} onInput={(e) => setMin(e.currentTarget.value)} /> searches</label>
        <button type="submit">Show</button>
      </form>
      <MetaLine meta={gaps.answer?.meta} />
      {gaps.error ? <ErrorState error={gaps.error} retry={gaps.reload} /> : gaps.loading || !d ? <Loading what="content gaps" /> : (
        <>
          <h2>Rescues</h2>
          {d.rescues.length === 0 ? <p class="state">No failed search of these gaps was followed by a successful one in the same visit.</p> : (
            <Table caption="Rescue pairs" query={query} rows={d.rescues as unknown as Array<Record<string, unknown>>} defaultSort="count" columns={[
              { key: 'failedQuery', label: 'Found nothing', render: (r) => <Link href={queryLink(String(r.failedQuery))}>{String(r.failedQuery)}</Link> },
              { key: 'rescueQuery', label: 'Then found', render: (r) => <Link href={queryLink(String(r.rescueQuery))}>{String(r.rescueQuery)}</Link> },
              { key: 'count', label: 'Times', numeric: true },
              { key: 'share', label: 'Share', numeric: true },
              { key: 'copy', label: 'Synonym', sortable: false, render: (r) => <CopySynonym rescue={r as unknown as Rescue} /> },
            ]} />
          )}
          <h2>Gaps</h2>
          {d.clusters.length === 0 ? <p class="state">No query without results came back often enough in this range (at least {query.get('minSearches') ?? 2} searches).</p> : (
            <Table caption="Content gaps" query={query} rows={d.clusters as unknown as Array<Record<string, unknown>>} defaultSort="noResultSearches" columns={[
              { key: 'display', label: 'Gap', render: (r) => <>{String(r.display)}{r.newThisPeriod ? <span class="badge">new</span> : null}</> },
              { key: 'queries', label: 'Queries', sortable: false, render: (r) => (r.queries as Cluster['queries']).map((q) => `${q.query} (${q.searches})`).join(', ') },
              { key: 'noResultSearches', numeric: true },
              { key: 'visitors', numeric: true },
              { key: 'firstSeen', label: 'First seen', render: (r) => formatTime(String(r.firstSeen)) },
            ]} />
          )}
        </>
      )}
    </section>
  )
}
