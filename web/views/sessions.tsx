import { useState } from 'preact/hooks'
import { ErrorState, FilterBar, Loading, MetaLine, Table } from '../components.js'
import { formatMetric } from '../format.js'
import { reportParams, useApi } from '../hooks.js'
import { setQuery, useLocation } from '../router.js'

interface Deflection {
  visitsWithSearch: number; selfServiceRate: number | null; supportVisits: number; ticketVisits: number; deflectionRate: number | null
  estimatedSavings: number | null
  sessions: { total: number; contact: number; sessionDeflectionRate: number | null; withoutResult: number; results: Array<{ dataKey: string; priority: number; sessions: number }> }
  clickedInTicketVisits: Array<{ document: string; clicks: number }>
}

export function Sessions() {
  const { query } = useLocation()
  const [cost, setCost] = useState(query.get('costPerTicket') ?? '')
  const defl = useApi<Deflection>('/api/v1/deflection', reportParams(query, { costPerTicket: query.get('costPerTicket') }))
  const d = defl.answer?.data
  const figure = (name: string, text: string, value: number | null) => (
    <div class="kpi" data-metric={name} key={name}><div class="kpi-label">{text}</div><div class="kpi-value">{formatMetric(name, value)}</div></div>
  )
  return (
    <section aria-labelledby="title">
      <h1 id="title">Sessions & deflection</h1>
      <FilterBar query={query} />
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); setQuery({ costPerTicket: cost.trim() || null }) }}>
        <label>Cost per ticket <input name="costPerTicket" inputMode="decimal" value={cost} onInput={(e) => setCost(e.currentTarget.value)} size={8} /></label>
        <button type="submit">Estimate savings</button>
      </form>
      <MetaLine meta={defl.answer?.meta} />
      {defl.error ? <ErrorState error={defl.error} retry={defl.reload} /> : defl.loading || !d ? <Loading what="deflection" /> : (
        <>
          <div class="kpis">
            {figure('visitsWithSearch', 'Visits with a search', d.visitsWithSearch)}
            {figure('selfServiceRate', 'Self-service rate', d.selfServiceRate)}
            {figure('supportVisits', 'Support visits', d.supportVisits)}
            {figure('ticketVisits', 'Ticket visits', d.ticketVisits)}
            {figure('deflectionRate', 'Deflection', d.deflectionRate)}
            {d.estimatedSavings !== null && figure('estimatedSavings', 'Estimated savings', d.estimatedSavings)}
          </div>
          {d.supportVisits === 0 && <p class="state">No support visit: searchtrack counts one from Inbenta's <code>CONTACT_*</code> data keys, or from the org's <code>support</code> setting (docs/reports.md, “Support”).</p>}
          <h2>Inbenta sessions</h2>
          <div class="kpis">
            {figure('sessions', 'Sessions', d.sessions.total)}
            {figure('contact', 'Contact sessions', d.sessions.contact)}
            {figure('sessionDeflectionRate', 'Session deflection', d.sessions.sessionDeflectionRate)}
            {figure('withoutResult', 'Without a result', d.sessions.withoutResult)}
          </div>
          {d.sessions.results.length === 0 ? <p class="state">No Inbenta session ended with a result in this range.</p> : (
            <Table caption="How sessions ended" query={query} rows={d.sessions.results as unknown as Array<Record<string, unknown>>} defaultSort="sessions"
              columns={[{ key: 'dataKey', label: 'Result (data key)' }, { key: 'priority', label: 'Priority', numeric: true }, { key: 'sessions', label: 'Sessions', numeric: true }]} />
          )}
          <h2>Documents clicked in visits that still opened a ticket</h2>
          {d.clickedInTicketVisits.length === 0 ? <p class="state">None in this range.</p> : (
            <Table caption="Documents clicked before a ticket" query={query} rows={d.clickedInTicketVisits as unknown as Array<Record<string, unknown>>} defaultSort="clicks"
              columns={[{ key: 'document', label: 'Document' }, { key: 'clicks', numeric: true }]} />
          )}
        </>
      )}
    </section>
  )
}
