import type { ComponentChildren, JSX } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { ApiError, downloadCsv, storedKey } from './api.js'
import { formatChange, formatMetric, label, LOWER_IS_BETTER } from './format.js'
import { onLinkClick, setQuery } from './router.js'

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  return <a {...props} onClick={onLinkClick} />
}

export function Loading({ what = 'data' }: { what?: string }) {
  return <p class="state loading" role="status" aria-live="polite">Loading {what}…</p>
}

export function ErrorState({ error, retry }: { error: ApiError; retry?: () => void }) {
  const hint = error.status === 401 ? 'The key was refused: sign out and sign in with another key.'
    : error.status === 403 ? 'This key may not read this: it needs the analytics:read privilege (admin pages: admin).'
    : error.status === 400 ? 'Check the range and the filter.'
    : error.status === 503 ? 'The report took too long: narrow the range.' : ''
  return (
    <div class="state error" role="alert">
      <p><strong>{error.type}</strong>: {error.message}</p>
      {hint && <p>{hint}</p>}
      {retry && <button type="button" onClick={retry}>Try again</button>}
    </div>
  )
}

/** What to do when an org has no events yet: send one, with this server's address and the signed-in key. */
export function NoDataYet() {
  const key = storedKey() ?? '<your key>'
  const id = 'demo-' + Math.random().toString(36).slice(2, 10)
  const curl = `curl -X POST '${location.origin}/rest/ua/v15/analytics/search' \\
  -H 'Authorization: Bearer ${key}' \\
  -H 'Content-Type: application/json' \\
  -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36' \\
  -d '{"language":"en","queryText":"reset password","actionCause":"searchboxSubmit","searchQueryUid":"${id}","numberOfResults":10,"responseTime":80,"originLevel1":"Support","clientId":"${id}"}'`
  return (
    <section class="empty" aria-labelledby="empty-title">
      <h2 id="empty-title">No events yet</h2>
      <p>
        This organization has not received a search. Point your search page's analytics at this server
        (docs/README.md lists the clients), or log one search now. The key must have the
        <code>analytics:push</code> privilege (create one under Keys with an admin key, or
        <code>npm run cli -- keys create --org &lt;org&gt; --privileges analytics:push</code>, and put it in place of this one);
        a browser user agent keeps it from being counted as a bot.
      </p>
      <pre class="code" tabIndex={0}>{curl}</pre>
      <p>Reports count an event within a few seconds; then reload this page.</p>
    </section>
  )
}

export function Tabs<T extends string>({ tabs, current, onChange, label: name }: { tabs: Array<[T, string]>; current: T; onChange: (tab: T) => void; label: string }) {
  const refs = useRef<Array<HTMLButtonElement | null>>([])
  const onKey = (event: KeyboardEvent, index: number) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0
    const to = event.key === 'Home' ? 0 : event.key === 'End' ? tabs.length - 1 : step ? (index + step + tabs.length) % tabs.length : -1
    if (to < 0) return
    event.preventDefault()
    onChange(tabs[to]![0])
    refs.current[to]?.focus()
  }
  return (
    <div role="tablist" aria-label={name} class="tabs">
      {tabs.map(([id, text], i) => (
        <button type="button" role="tab" id={`tab-${id}`} aria-selected={id === current} aria-controls="tabpanel" tabIndex={id === current ? 0 : -1}
          ref={(el) => void (refs.current[i] = el)} onClick={() => onChange(id)} onKeyDown={(e) => onKey(e, i)} key={id}>
          {text}
        </button>
      ))}
    </div>
  )
}

export interface Column<R> {
  key: string
  label?: string
  render?: (row: R) => ComponentChildren
  numeric?: boolean
  sortable?: boolean
}

/**
 * A table whose column headers sort it: through the URL (`sort`, `dir`), either by the server
 * (`serverSort`: the API's orderBy) or here.
 */
export function Table<R extends Record<string, unknown>>({ columns, rows, caption, query, serverSort = false, defaultSort }: {
  columns: Array<Column<R>>; rows: R[]; caption: string; query: URLSearchParams; serverSort?: boolean; defaultSort?: string
}) {
  const sort = query.get('sort') ?? defaultSort ?? null
  const dir = query.get('dir') === 'asc' ? 'asc' : 'desc'
  let shown = rows
  if (!serverSort && sort) {
    shown = [...rows].sort((a, b) => {
      const x = a[sort], y = b[sort]
      if (x === y) return 0
      if (x === null || x === undefined) return 1
      if (y === null || y === undefined) return -1
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))
      return dir === 'asc' ? c : -c
    })
  }
  const toggle = (key: string) => setQuery({ sort: key, dir: sort === key && dir === 'desc' ? 'asc' : 'desc', cursor: null })
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort === c.key
              const ariaSort = active ? (dir === 'asc' ? 'ascending' : 'descending') : undefined
              return (
                <th scope="col" class={c.numeric ? 'num' : ''} aria-sort={ariaSort} key={c.key}>
                  {c.sortable === false ? c.label ?? label(c.key) : (
                    <button type="button" class="sort" onClick={() => toggle(c.key)}>
                      {c.label ?? label(c.key)} <span aria-hidden="true">{active ? (dir === 'asc' ? '▲' : '▼') : '↕'}</span>
                    </button>
                  )}
                </th>
              )
            })}
          </tr>
        </thead>
        <tbody>
          {shown.map((row, i) => (
            <tr key={i}>
              {columns.map((c) => (
                <td class={c.numeric ? 'num' : ''} key={c.key} data-col={c.key}>{c.render ? c.render(row) : formatMetric(c.key, row[c.key])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export interface Compared {
  value: number | null
  previous?: number | null
  change?: number | null
  delta?: number | null
  significant?: boolean | null
  reason?: string
}

export function Kpi({ name, metric }: { name: string; metric: Compared }) {
  const change = metric.change ?? (metric.delta !== null && metric.delta !== undefined && metric.previous ? metric.delta / metric.previous : null)
  const good = change === null || change === 0 ? 'neutral' : (change > 0) !== LOWER_IS_BETTER.has(name) ? 'good' : 'bad'
  return (
    <div class="kpi" data-metric={name}>
      <div class="kpi-label">{label(name)}</div>
      <div class="kpi-value">{formatMetric(name, metric.value)}</div>
      <div class={`kpi-change ${good}`}>
        {metric.value === null && metric.reason === 'notMeasurable' ? 'not measurable with these protocols'
          : change !== null ? <>{formatChange(change)} <span class="muted">vs {formatMetric(name, metric.previous)}</span>{metric.significant ? <span class="sig" title="statistically significant"> ●</span> : null}</>
          : metric.previous !== undefined ? <span class="muted">previous: {formatMetric(name, metric.previous)}</span> : null}
      </div>
    </div>
  )
}

export interface SeriesSpec {
  key: string
  ratio?: boolean
}

const PALETTE = ['#2f6fdb', '#d9822b', '#2a9d62', '#b33dc6']

/** A line chart of API points ({t, …}); ratios on a second axis in per cent. */
export function Chart({ points, series, title }: { points: Array<Record<string, unknown>>; series: SeriesSpec[]; title: string }) {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const el = box.current
    if (!el) return
    const xs = points.map((p) => Date.parse(String(p.t)) / 1000)
    const data = [xs, ...series.map((s) => points.map((p) => (typeof p[s.key] === 'number' ? (p[s.key] as number) : null)))] as uPlot.AlignedData
    const css = getComputedStyle(document.documentElement)
    const ink = css.getPropertyValue('--muted').trim() || '#666'
    const grid = css.getPropertyValue('--line').trim() || '#ddd'
    const hasRatio = series.some((s) => s.ratio)
    const width = () => Math.max(280, el.clientWidth)
    const plot = new uPlot({
      width: width(),
      height: 260,
      series: [{}, ...series.map((s, i) => ({
        label: label(s.key), stroke: PALETTE[i % PALETTE.length], width: 2, scale: s.ratio ? 'ratio' : 'count',
        value: (_u: uPlot, v: number | null) => formatMetric(s.key, v),
      }))],
      scales: { count: { range: (_u, _min, max) => [0, Math.max(1, max)] }, ratio: { range: [0, 1] } },
      axes: [
        { stroke: ink, grid: { stroke: grid } },
        { scale: 'count', stroke: ink, grid: { stroke: grid } },
        ...(hasRatio ? [{ scale: 'ratio', side: 1, size: 56, stroke: ink, grid: { show: false }, values: (_u: uPlot, ticks: number[]) => ticks.map((v) => `${Math.round(v * 100)} %`) }] : []),
      ],
    }, data, el)
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 260 }))
    observer.observe(el)
    return () => {
      observer.disconnect()
      plot.destroy()
    }
  }, [points, series])
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s) => label(s.key)).join(', ')} over time`} />
    </figure>
  )
}

/** Horizontal bars for a few counts (a histogram read as a list). */
export function Bars({ rows, title }: { rows: Array<{ label: string; value: number }>; title: string }) {
  const max = Math.max(1, ...rows.map((r) => r.value))
  return (
    <figure class="bars">
      <figcaption>{title}</figcaption>
      <ul>
        {rows.map((r) => (
          <li key={r.label}>
            <span class="bar-label">{r.label}</span>
            <span class="bar"><span style={{ width: `${(r.value / max) * 100}%` }} /></span>
            <span class="bar-value">{formatMetric('clicks', r.value)}</span>
          </li>
        ))}
      </ul>
    </figure>
  )
}

/** A label above its control, tied by id (a label wrapping a select would take the option's text into its name). */
function Field({ id, text, children, class: cls }: { id: string; text: string; children: ComponentChildren; class?: string }) {
  return (
    <div class={`field ${cls ?? ''}`}>
      <label for={id}>{text}</label>
      {children}
    </div>
  )
}

const RANGES: Array<[string, string]> = [['today', 'Today'], ['yesterday', 'Yesterday'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'], ['90d', 'Last 90 days'], ['thisMonth', 'This month'], ['lastMonth', 'Last month'], ['12mo', 'Last 12 months']]

/** Range, comparison, bots and a filter expression, all kept in the URL. */
export function FilterBar({ query, compare = false, bots = true, defaultRange = '30d' }: { query: URLSearchParams; compare?: boolean; bots?: boolean; defaultRange?: string }) {
  const [filter, setFilter] = useState(query.get('f') ?? '')
  useEffect(() => setFilter(query.get('f') ?? ''), [query.get('f')])
  const submit = (event: JSX.TargetedEvent<HTMLFormElement>) => {
    event.preventDefault()
    setQuery({ f: filter.trim() || null, cursor: null })
  }
  return (
    <form class="filters" onSubmit={submit} aria-label="Report settings">
      <Field id="f-range" text="Range">
        <select id="f-range" name="range" value={query.get('range') ?? defaultRange} onChange={(e) => setQuery({ range: e.currentTarget.value, from: null, to: null, cursor: null })}>
          {RANGES.map(([v, t]) => <option value={v} key={v}>{t}</option>)}
        </select>
      </Field>
      {compare && (
        <Field id="f-compare" text="Compare with">
          <select id="f-compare" name="compare" value={query.get('compare') ?? 'previous'} onChange={(e) => setQuery({ compare: e.currentTarget.value, cursor: null })}>
            <option value="previous">Previous period</option>
            <option value="year">Last year</option>
            <option value="none">Nothing</option>
          </select>
        </Field>
      )}
      {bots && <Field id="f-bots" text="Bots">
        <select id="f-bots" name="bots" value={query.get('bots') ?? 'exclude'} onChange={(e) => setQuery({ bots: e.currentTarget.value === 'exclude' ? null : e.currentTarget.value, cursor: null })}>
          <option value="exclude">Left out</option>
          <option value="include">Included</option>
          <option value="only">Only bots</option>
        </select>
      </Field>}
      <Field id="f-filter" text="Filter" class="grow">
        <input id="f-filter" name="f" type="search" value={filter} placeholder="hub == 'Support' AND language == 'en'" onInput={(e) => setFilter(e.currentTarget.value)} spellcheck={false} />
      </Field>
      <button type="submit">Apply</button>
    </form>
  )
}

export function CsvButton({ path, params, filename }: { path: string; params: URLSearchParams; filename: string }) {
  const [error, setError] = useState<string | null>(null)
  const csvParams = new URLSearchParams(params)
  csvParams.set('format', 'csv')
  csvParams.delete('limit')
  csvParams.delete('cursor')
  return (
    <>
      <a class="button" href={`${path}?${csvParams}`} data-csv download={filename} onClick={(event) => {
        // The key goes in a header, never in the address: fetch the file and hand it over.
        event.preventDefault()
        setError(null)
        downloadCsv(path, csvParams, filename).catch((err: Error) => setError(err.message))
      }}>Download CSV</a>
      {error && <span role="alert" class="error-text">{error}</span>}
    </>
  )
}

export function MetaLine({ meta }: { meta: { from?: string; to?: string; tz?: string; freshness?: { lagSeconds: number } } | undefined }) {
  if (!meta?.from) return null
  return (
    <p class="meta-line muted">
      {new Date(meta.from).toLocaleDateString('en-GB', { dateStyle: 'medium' })} – {new Date(meta.to!).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })} ({meta.tz})
      {meta.freshness && meta.freshness.lagSeconds > 60 ? ` · figures ${Math.round(meta.freshness.lagSeconds / 60)} min behind` : ''}
    </p>
  )
}

/** Pages of a list: the API's cursor goes in the URL, so a page can be bookmarked too. */
export function Pager({ query, nextCursor }: { query: URLSearchParams; nextCursor: string | null | undefined }) {
  if (!nextCursor && !query.get('cursor')) return null
  return (
    <nav class="pager" aria-label="Pages">
      {query.get('cursor') && <button type="button" class="ghost" onClick={() => setQuery({ cursor: null })}>First page</button>}
      {nextCursor && <button type="button" class="ghost" onClick={() => setQuery({ cursor: nextCursor })}>Next page</button>}
    </nav>
  )
}
