// Not a test: scripts/bench-dashboard.mjs runs this through the test runner to time the overview's
// first render with data (a fresh browser context each time: nothing cached) over a made-up month.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { dashboardApp, openDashboard, sendDemoSet } from './helpers.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 7)

t.test('overview first render', async (t) => {
  const d = await dashboardApp(t, (r, base) => sendDemoSet(r, base, 29))
  const times: number[] = []
  const phases: Array<Record<string, number>> = []
  for (let i = 0; i < RUNS; i++) {
    const { page, context } = await openDashboard(d, '/favicon.ico')
    // As after signing in: the key and its org are in the tab's session.
    await context.addInitScript(`sessionStorage.setItem('searchtrack.key', ${JSON.stringify(d.r.read)}); sessionStorage.setItem('searchtrack.org', 'acme')`)
    await page.goto(`${d.origin}/dashboard`)
    // Data on screen: the KPI cards with figures and the chart drawn.
    await page.locator('[data-metric=searches] .kpi-value').waitFor()
    await page.locator('.chart .uplot').waitFor()
    times.push(Math.round((await page.evaluate('performance.now()')) as number))
    phases.push((await page.evaluate(`({
      html: performance.getEntriesByType('navigation')[0].responseEnd,
      script: performance.getEntriesByType('resource').find((e) => e.name.endsWith('.js')).responseEnd,
      overviewAsked: performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/overview')).startTime,
      overviewApi: performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/overview')).responseEnd,
      timeseriesApi: performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/timeseries')).responseEnd,
    })`)) as Record<string, number>)
    await context.close()
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
  const phase = Object.fromEntries(Object.keys(phases[0]!).map((k) => [k, Math.round(median(phases.map((p) => p[k]!)))]))
  times.sort((a, b) => a - b)
  // The two reports alone, one after the other, inside the service (no browser, no network).
  const serverMs: Record<string, number> = {}
  for (const url of ['/api/v1/overview', '/api/v1/timeseries?metrics=searches,ctr,noResultRate&compare=none']) {
    const runs: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now()
      await d.r.app.inject({ url, headers: { authorization: `Bearer ${d.r.read}` } })
      runs.push(performance.now() - started)
    }
    serverMs[url.split('?')[0]!.replace('/api/v1/', '')] = Math.round(median(runs))
  }
  const out = process.env.BENCH_OUT
  if (out) await writeFile(out, JSON.stringify({ times, phase, serverMs }))
  t.pass(`first render with data: ${times.join(', ')} ms`)
})
