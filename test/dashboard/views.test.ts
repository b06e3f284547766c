import t from 'tap'
import { readFile } from 'node:fs/promises'
import { get } from '../reports/helpers.js'
import { createKey } from '../helpers/app.js'
import { axeViolations, dashboardApp, openDashboard, signIn, textOf } from './helpers.js'

// The dashboard in Chromium against the real service and database, over the hand-made data set
// of the reports tests (test/reports/helpers.ts): figures read from the page are the API's.
t.test('every view renders the API figures, keeps its state in the URL, and passes axe', async (t) => {
  const d = await dashboardApp(t)
  const { page, context, errors } = await openDashboard(d, '/')
  const a11y: Record<string, string[]> = {}
  const check = async (name: string) => {
    a11y[name] = await axeViolations(page)
  }

  // Sign-in: the key is kept for the tab only.
  await page.getByLabel('API key').waitFor()
  await check('sign-in')
  await signIn(page, d.r.read)
  t.equal(await page.evaluate("sessionStorage.getItem('searchtrack.key')"), d.r.read)
  t.equal(await page.evaluate("localStorage.getItem('searchtrack.key')"), null, 'never in localStorage')

  // Overview: KPI cards are the overview report's values.
  const overview = (await get(d.r, '/api/v1/overview')).body.data
  t.equal(await textOf(page, '[data-metric=searches] .kpi-value'), String(overview.searches.value))
  t.equal(await textOf(page, '[data-metric=ctr] .kpi-value'), `${(overview.ctr.value * 100).toFixed(1)} %`)
  t.equal(await textOf(page, '[data-metric=visits] .kpi-value'), String(overview.visits.value))
  await page.locator('.chart .uplot').waitFor()
  t.notOk(await page.locator('.empty').count(), 'no empty state when there are events')
  await check('overview')

  // The range and the filter change the URL and the figures.
  await page.getByLabel('Range', { exact: true }).selectOption('yesterday')
  await page.waitForURL(/range=yesterday/)
  await page.locator('[data-metric=searches] .kpi-value', { hasText: /^0$/ }).waitFor()
  await page.getByLabel('Range', { exact: true }).selectOption('today')
  await page.getByLabel('Filter', { exact: true }).fill("hub == 'Support'")
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForURL(/f=hub/)
  const filtered = (await get(d.r, `/api/v1/overview?range=today&f=${encodeURIComponent("hub == 'Support'")}`)).body.data
  await page.locator('[data-metric=searches] .kpi-value', { hasText: new RegExp(`^${filtered.searches.value}$`) }).waitFor()
  // A bookmark of this address opens the same view.
  const bookmarked = page.url()
  await page.reload()
  t.equal(await page.getByLabel('Filter', { exact: true }).inputValue(), "hub == 'Support'")
  t.equal(await page.getByLabel('Range', { exact: true }).inputValue(), 'today')
  t.equal(page.url(), bookmarked)
  await page.getByLabel('Filter', { exact: true }).fill('')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForURL((url) => !url.search.includes('f='))

  // Queries: the top list, the tabs with the keyboard, the CSV with the same parameters.
  await page.getByRole('link', { name: 'Queries' }).click()
  await page.waitForURL(/\/dashboard\/queries\?range=today/)
  const top = (await get(d.r, '/api/v1/queries?view=top&range=today&limit=100')).body.data.rows as Array<{ display: string; userSearches: number }>
  await page.locator('tbody tr').first().waitFor()
  t.equal(await page.locator('tbody tr').count(), top.length)
  t.equal(await textOf(page, 'tbody tr:first-child td[data-col=display]'), top[0]!.display)
  t.equal(await textOf(page, 'tbody tr:first-child td[data-col=userSearches]'), String(top[0]!.userSearches))
  await check('queries')
  await page.getByRole('tab', { name: 'Top' }).focus()
  await page.keyboard.press('ArrowRight')
  await page.waitForURL(/tab=noResults/)
  t.equal(await page.evaluate('document.activeElement?.textContent'), 'No results', 'focus follows the arrow key')
  const noResults = (await get(d.r, '/api/v1/queries?view=noResults&range=today')).body.data.rows as Array<{ display: string }>
  await page.locator('tbody td[data-col=display]', { hasText: noResults[0]!.display }).waitFor()
  t.same((await page.locator('tbody td[data-col=display]').allInnerTexts()).sort(), noResults.map((r) => r.display).sort())
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()])
  const csv = await readFile((await download.path())!, 'utf8')
  const apiCsv = await d.r.app.inject({ url: '/api/v1/queries?range=today&view=noResults&format=csv', headers: { authorization: `Bearer ${d.r.read}` } })
  t.equal(csv, apiCsv.body, 'the CSV is the API export with the same parameters')
  t.equal(download.suggestedFilename(), 'queries-noResults.csv')
  // Sorting by a column goes to the API as orderBy.
  await page.getByRole('tab', { name: 'Top' }).click()
  await page.getByRole('button', { name: /^Query/ }).click()
  await page.waitForURL(/sort=display/)

  // Pages: the API's cursor in the URL.
  await page.goto(`${d.origin}/dashboard/queries?range=today&limit=2`)
  await page.locator('tbody tr').first().waitFor()
  const firstPage = await page.locator('tbody td[data-col=display]').allInnerTexts()
  t.same(firstPage, top.slice(0, 2).map((r) => r.display))
  await page.getByRole('button', { name: 'Next page' }).click()
  await page.waitForURL(/cursor=/)
  await page.locator('tbody td[data-col=display]', { hasText: top[2]!.display }).first().waitFor()
  t.same(await page.locator('tbody td[data-col=display]').allInnerTexts(), top.slice(2, 4).map((r) => r.display))
  await page.goto(`${d.origin}/dashboard/queries?range=today`)

  // Query detail.
  await page.getByRole('link', { name: 'pass', exact: true }).click()
  await page.waitForURL(/\/dashboard\/queries\/detail\?.*query=pass/)
  const detail = (await get(d.r, '/api/v1/queries/detail?query=pass&range=today')).body.data
  t.equal(await textOf(page, '[data-metric=userSearches] .kpi-value'), String(detail.totals.userSearches))
  await page.getByRole('figure').filter({ hasText: 'Clicks by position' }).waitFor()
  t.equal(await textOf(page, 'td[data-col=document]'), detail.documents[0].document)
  await check('query detail')

  // Content gaps: a rescue, copied as a synonym.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: d.origin })
  await page.getByRole('link', { name: 'Content gaps' }).click()
  await page.getByLabel('Gaps of at least').fill('1')
  await page.getByRole('button', { name: 'Show' }).click()
  await page.waitForURL(/minSearches=1/)
  const gaps = (await get(d.r, '/api/v1/content-gaps?range=today&minSearches=1')).body.data
  const rescue = gaps.rescues[0]
  await page.locator('td[data-col=failedQuery]', { hasText: rescue.failedQuery }).waitFor()
  await page.getByRole('button', { name: /^Copy as synonym/ }).first().click()
  await page.getByText('Copied').waitFor()
  t.equal(await page.evaluate('navigator.clipboard.readText()'), `${rescue.failedQuery} => ${rescue.rescueQuery}`)
  await check('content gaps')

  // Documents.
  await page.getByRole('link', { name: 'Documents' }).click()
  const documents = (await get(d.r, '/api/v1/documents?range=today')).body.data.rows
  await page.locator('tbody tr').first().waitFor()
  t.equal(await page.locator('tbody tr').count(), documents.length)
  await check('documents')
  const doc = documents[0]
  await page.getByRole('link', { name: doc.title ?? doc.document, exact: true }).click()
  await page.waitForURL(/\/dashboard\/documents\/detail\?.*document=/)
  const docDetail = (await get(d.r, `/api/v1/documents/detail?range=today&document=${encodeURIComponent(doc.document)}`)).body.data
  t.equal(await textOf(page, '[data-metric=clicks] .kpi-value'), String(docDetail.totals.clicks))
  await check('document detail')

  // Visits and one visit's timeline.
  await page.getByRole('link', { name: 'Visits' }).click()
  const visits = (await get(d.r, '/api/v1/visits?range=today')).body.data.rows
  await page.locator('tbody tr').first().waitFor()
  t.equal(await page.locator('tbody tr').count(), visits.length)
  await check('visits')
  await page.locator('tbody tr td[data-col=start] a').first().click()
  await page.waitForURL(/\/dashboard\/visits\/[0-9a-f-]+/)
  const visitId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!)
  const timeline = (await get(d.r, `/api/v1/visits/${visitId}`)).body.data
  await page.locator('.timeline li').first().waitFor()
  t.equal(await page.locator('.timeline li').count(), timeline.events.length)
  await check('visit')

  // Sessions and deflection.
  await page.getByRole('link', { name: 'Sessions & deflection' }).click()
  const deflection = (await get(d.r, '/api/v1/deflection?range=today')).body.data
  t.equal(await textOf(page, '[data-metric=visitsWithSearch] .kpi-value'), String(deflection.visitsWithSearch))
  t.equal(await textOf(page, '[data-metric=selfServiceRate] .kpi-value'), `${(deflection.selfServiceRate * 100).toFixed(1)} %`)
  await check('sessions')

  // Feedback.
  await page.getByRole('link', { name: 'Feedback' }).click()
  const feedback = (await get(d.r, '/api/v1/feedback?range=today&groupBy=query')).body.data.rows
  await page.locator('tbody tr').first().waitFor()
  t.equal(await textOf(page, 'td[data-col=positive]'), String(feedback[0].positive))
  t.equal(await textOf(page, 'td[data-col=negative]'), String(feedback[0].negative))
  await check('feedback')

  // Data quality: each failed check with its count and what to fix.
  await page.getByRole('link', { name: 'Data quality' }).click()
  const quality = (await get(d.r, '/api/v1/quality?range=today')).body.data.checks.filter((c: { failed: number }) => c.failed > 0)
  await page.locator('.check').first().waitFor()
  t.equal(await page.locator('.check').count(), quality.length)
  const first = quality.sort((a: { failed: number }, b: { failed: number }) => b.failed - a.failed)[0]
  const card = page.locator(`.check[data-code=${first.code}]`).first()
  t.match(await card.innerText(), first.hint)
  await check('quality')

  // Theme toggle: the dark theme applies and is kept.
  await page.getByRole('button', { name: 'Dark theme' }).click()
  t.equal(await page.evaluate('document.documentElement.dataset.theme'), 'dark')
  await check('quality (dark)')

  // Sign out forgets the key.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('API key').waitFor()
  t.equal(await page.evaluate("sessionStorage.getItem('searchtrack.key')"), null)

  t.same(errors, [], 'no console error on any view')
  for (const [view, violations] of Object.entries(a11y)) t.same(violations, [], `axe: no serious or critical violation on ${view}`)
})

t.test('a fresh organization sees what to do next; a narrow screen has no sideways scrolling', async (t) => {
  const d = await dashboardApp(t)
  const fresh = (await createKey(d.r.app, 'newcomer', ['analytics:read'])).key
  const { page, errors } = await openDashboard(d, '/dashboard', { width: 360, height: 740 })
  await signIn(page, fresh)
  await page.getByRole('heading', { name: 'No events yet' }).waitFor()
  const curl = await textOf(page, '.empty pre')
  t.match(curl, `${d.origin}/rest/ua/v15/analytics/search`)
  t.match(curl, `Bearer ${fresh}`)
  t.match(curl, /User-Agent: Mozilla/)
  t.equal(await textOf(page, '[data-metric=searches] .kpi-value'), '0')
  t.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), 'fits 360 px')
  // The menu opens with a button on a narrow screen.
  await page.getByRole('button', { name: 'Menu' }).click()
  await page.getByRole('link', { name: 'Queries' }).click()
  await page.getByText('No query in this list').waitFor()
  t.ok(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), 'queries fit 360 px')
  t.same(await axeViolations(page), [])

  // A wrong key is refused with a message, not a blank page.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('API key').fill('st_nope_nope')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').waitFor()
  t.match(await page.getByRole('alert').innerText(), /unknown or revoked|Invalid/)
  t.same(errors.filter((e) => !/status of 401/.test(e)), [], 'no console error but the refused key')
})
