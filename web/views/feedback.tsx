import { ErrorState, FilterBar, Loading, MetaLine, Table, Tabs } from '../components.js'
import { formatTime } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { setQuery, useLocation } from '../router.js'

type Group = 'query' | 'document' | 'protocol' | 'hub'
const TABS: Array<[Group, string]> = [['query', 'By query'], ['document', 'By document'], ['protocol', 'By protocol'], ['hub', 'By hub']]
interface Comment { at: string; query: string | null; document: string | null; score: number | null; comment: string | null }

export function Feedback() {
  const { query } = useLocation()
  const group = (TABS.some(([v]) => v === query.get('by')) ? query.get('by') : 'query') as Group
  const fb = useApi<{ rows: Array<Record<string, unknown>>; comments?: Comment[] }>('/api/v1/feedback', reportParams(query, { groupBy: group, comments: 'true' }))
  const d = fb.answer?.data
  return (
    <section aria-labelledby="title">
      <h1 id="title">Feedback</h1>
      <FilterBar query={query} />
      <Tabs label="Group feedback" tabs={TABS} current={group} onChange={(by) => setQuery({ by: by === 'query' ? null : by, sort: null, dir: null })} />
      <div id="tabpanel" role="tabpanel" aria-labelledby={`tab-${group}`}>
        <MetaLine meta={fb.answer?.meta} />
        {fb.error ? <ErrorState error={fb.error} retry={fb.reload} /> : fb.loading || !d ? <Loading what="feedback" /> : d.rows.length === 0 ? (
          <p class="state">No feedback in this range. Ratings come from Workplace Search feedback, Inbenta ratings, Coveo outcomes or custom events named in the org's <code>feedbackEvents</code> setting.</p>
        ) : (
          <Table caption="Feedback" query={query} rows={d.rows} defaultSort="negative" columns={[
            { key: 'key', label: group[0]!.toUpperCase() + group.slice(1), render: (r) => (r.key === null ? <span class="muted">(none)</span> : String(r.key)) },
            { key: 'positive', label: 'Positive', numeric: true },
            { key: 'negative', label: 'Negative', numeric: true },
            { key: 'neutral', label: 'Neutral', numeric: true },
            { key: 'feedbackPositiveRate', numeric: true },
          ]} />
        )}
        {d?.comments && d.comments.length > 0 && (
          <>
            <h2>Latest comments</h2>
            <ul class="comments">
              {d.comments.map((c, i) => (
                <li key={i}><span class="muted">{formatTime(c.at)} · {c.query ?? c.document ?? ''} · score {c.score ?? '—'}</span><p>{c.comment}</p></li>
              ))}
            </ul>
          </>
        )}
      </div>
    </section>
  )
}
