import { ErrorState, FilterBar, Loading, MetaLine } from '../components.js'
import { formatMetric } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { useLocation } from '../router.js'

interface Check { code: string; severity: string; protocol: string; failed: number; total: number; sampleEventIds: string[]; hint: string }

export function Quality() {
  const { query } = useLocation()
  const q = useApi<{ checks: Check[] }>('/api/v1/quality', reportParams(query))
  const checks = q.answer?.data.checks ?? []
  const failed = checks.filter((c) => c.failed > 0).sort((a, b) => b.failed - a.failed)
  const passed = checks.filter((c) => c.failed === 0)
  return (
    <section aria-labelledby="title">
      <h1 id="title">Data quality</h1>
      <p class="muted">What the clients sending events get wrong, and what to change in them. Bots are always counted here.</p>
      <FilterBar query={query} defaultRange="7d" bots={false} />
      <MetaLine meta={q.answer?.meta} />
      {q.error ? <ErrorState error={q.error} retry={q.reload} /> : q.loading ? <Loading what="checks" /> : (
        <>
          {failed.length === 0 ? <p class="state">Every check passes for the events of this range.</p> : (
            <ul class="checks">
              {failed.map((c) => (
                <li class={`check sev-${c.severity}`} key={`${c.code}-${c.protocol}`} data-code={c.code}>
                  <h2><span class="tag">{c.severity}</span> {c.code} <span class="muted">· {c.protocol}</span></h2>
                  <p class="count"><strong>{formatMetric('failed', c.failed)}</strong> of {formatMetric('total', c.total)} events ({formatMetric('share', c.total ? c.failed / c.total : null)})</p>
                  <p><strong>What to fix in the client:</strong> {c.hint}</p>
                  {c.sampleEventIds.length > 0 && (
                    <details>
                      <summary>Sample event ids ({c.sampleEventIds.length})</summary>
                      <ul class="samples">{c.sampleEventIds.map((id) => <li key={id}><code>{id}</code></li>)}</ul>
                    </details>
                  )}
                </li>
              ))}
            </ul>
          )}
          {passed.length > 0 && (
            <details class="passed">
              <summary>{passed.length} checks pass</summary>
              <ul>{passed.map((c) => <li key={`${c.code}-${c.protocol}`}>{c.code} · {c.protocol} ({formatMetric('total', c.total)} events)</li>)}</ul>
            </details>
          )}
        </>
      )}
    </section>
  )
}
