import { Pager, ErrorState, FilterBar, Link, Loading, MetaLine, Table } from '../components.js'
import { formatTime } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { BASE, useLocation } from '../router.js'

interface VisitRow { visitId: string; visitor: string | null; user: string | null; start: string; end: string; events: number; searches: number; clicks: number; firstQuery: string | null; hubs: string[]; result: string | null; ticket: boolean }

const visitLink = (id: string) => `${BASE}/visits/${encodeURIComponent(id)}${location.search}`

export function Visits() {
  const { query } = useLocation()
  const sort = ['start', 'events', 'searches'].includes(query.get('sort') ?? '') ? query.get('sort') : null
  const list = useApi<{ rows: VisitRow[] }>('/api/v1/visits', reportParams(query, { orderBy: sort, direction: sort ? query.get('dir') : null, limit: query.get('limit') ?? '100', cursor: query.get('cursor') }))
  return (
    <section aria-labelledby="title">
      <h1 id="title">Visits</h1>
      <FilterBar query={query} />
      <MetaLine meta={list.answer?.meta} />
      {list.error ? <ErrorState error={list.error} retry={list.reload} /> : list.loading ? <Loading what="visits" /> :
        list.answer!.data.rows.length === 0 ? <p class="state">No visit in this range.</p> : (
          <Table caption="Visits" query={query} serverSort rows={list.answer!.data.rows as unknown as Array<Record<string, unknown>>} columns={[
            { key: 'start', label: 'Start', render: (r) => <Link href={visitLink(String(r.visitId))}>{formatTime(String(r.start))}</Link> },
            { key: 'visitor', label: 'Visitor', sortable: false },
            { key: 'firstQuery', label: 'First query', sortable: false },
            { key: 'events', label: 'Events', numeric: true },
            { key: 'searches', label: 'Searches', numeric: true },
            { key: 'clicks', label: 'Clicks', numeric: true, sortable: false },
            { key: 'hubs', label: 'Hubs', sortable: false, render: (r) => (r.hubs as string[]).join(', ') },
            { key: 'result', label: 'Result', sortable: false, render: (r) => (r.ticket ? 'ticket' : String(r.result ?? '')) },
          ]} />
        )}
      <Pager query={query} nextCursor={list.answer?.meta.nextCursor} />
    </section>
  )
}

interface TimelineEvent { eventId: string; at: string; type: string; protocol: string; hub: string | null; dataKey: string | null; query?: string | null; causeClass?: string | null; cause?: string | null; partial?: boolean; userSearch?: boolean; numberOfResults?: number | null; boundTo?: string | null; position?: number | null; document?: string | null; eventType?: string | null; eventValue?: string | null; feedback?: number | null }
interface Timeline { visitId: string; visitor: string | null; isBot: boolean; start: string; end: string; sessionResult: unknown; events: TimelineEvent[]; truncated: boolean }

function describe(e: TimelineEvent): string {
  if (e.type === 'search') {
    const results = e.numberOfResults === null || e.numberOfResults === undefined ? '' : e.numberOfResults === 0 ? ', no results' : `, ${e.numberOfResults} results`
    return `searched “${e.query ?? ''}” (${e.cause ?? e.causeClass ?? 'search'}${e.partial ? ', partial' : ''}${results})`
  }
  if (e.type === 'click') return `clicked ${e.document ?? 'a result'}${e.position ? ` at position ${e.position}` : ''}${e.boundTo ? '' : ' (no search found for it)'}`
  if (e.feedback !== null && e.feedback !== undefined) return `gave feedback ${e.feedback > 0 ? 'positive' : e.feedback < 0 ? 'negative' : 'neutral'}${e.document ? ` on ${e.document}` : ''}`
  return `${e.type}${e.eventType ? ` ${e.eventType}` : ''}${e.eventValue ? ` ${e.eventValue}` : ''}${e.dataKey ? ` ${e.dataKey}` : ''}`
}

export function VisitDetail({ visitId }: { visitId: string }) {
  const visit = useApi<Timeline>(`/api/v1/visits/${encodeURIComponent(visitId)}`)
  const v = visit.answer?.data
  return (
    <section aria-labelledby="title">
      <p class="back"><Link href={`${BASE}/visits${location.search}`}>← Visits</Link></p>
      <h1 id="title">Visit</h1>
      {visit.error ? <ErrorState error={visit.error} retry={visit.reload} /> : visit.loading || !v ? <Loading what="the visit" /> : (
        <>
          <p class="muted">Visitor {v.visitor ?? '(none)'} · {formatTime(v.start)} – {formatTime(v.end)}{v.isBot ? ' · bot' : ''}</p>
          {v.sessionResult ? <p>Session result: <code>{JSON.stringify(v.sessionResult)}</code></p> : null}
          <ol class="timeline">
            {v.events.map((e) => (
              <li key={e.eventId} class={`ev-${e.type}`}>
                <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString('en-GB')}</time>
                <span class="tag">{e.type}</span> {describe(e)}
                <span class="muted"> · {e.protocol}{e.hub ? ` · ${e.hub}` : ''}</span>
              </li>
            ))}
          </ol>
          {v.truncated && <p class="muted">Only the first events are shown.</p>}
        </>
      )}
    </section>
  )
}
