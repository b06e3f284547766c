// Not a test: `npm run screenshots` runs this through the test runner (a throwaway PostgreSQL, the
// built service) to photograph every view over a made-up month of searches, at 1280 and 390 px.
import t from 'tap'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createKey } from '../helpers/app.js'
import { dashboardApp, openDashboard, sendDemoSet } from './helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OUT = process.env.SCREENSHOT_DIR ?? path.join(ROOT, 'screenshots')

t.test('screenshots', async (t) => {
  await mkdir(OUT, { recursive: true })
  await mkdir(path.join(ROOT, 'docs/images'), { recursive: true })
  const d = await dashboardApp(t, (r, base) => sendDemoSet(r, base, 29))
  const admin = (await createKey(d.r.app, 'acme', ['analytics:read', 'admin'])).key
  const fresh = (await createKey(d.r.app, 'newcomer', ['analytics:read'])).key
  const visit = (await d.r.app.inject({ url: '/api/v1/visits?limit=1&orderBy=searches', headers: { authorization: `Bearer ${d.r.read}` } })).json().data.rows[0].visitId
  const views: Array<[string, string, string?]> = [
    ['overview', '/dashboard'],
    ['queries', '/dashboard/queries'],
    ['queries-no-results', '/dashboard/queries?tab=noResults'],
    ['query-detail', '/dashboard/queries/detail?query=reset+password'],
    ['content-gaps', '/dashboard/content-gaps'],
    ['documents', '/dashboard/documents'],
    ['visits', '/dashboard/visits'],
    ['visit', `/dashboard/visits/${visit}`],
    ['sessions', '/dashboard/sessions'],
    ['feedback', '/dashboard/feedback'],
    ['quality', '/dashboard/quality'],
    ['admin-orgs', '/dashboard/admin', admin],
    ['admin-keys', '/dashboard/admin/keys', admin],
    ['empty', '/dashboard', fresh],
    ['sign-in', '/dashboard', ''],
  ]
  for (const width of [1280, 390]) {
    for (const theme of ['light', 'dark'] as const) {
      for (const [name, url, key = d.r.read] of views) {
        if (theme === 'dark' && !['overview', 'query-detail', 'queries'].includes(name)) continue
        const { page, context } = await openDashboard(d, '/favicon.ico', { width, height: width > 800 ? 900 : 844 })
        await context.addInitScript(`${key ? `sessionStorage.setItem('searchtrack.key', ${JSON.stringify(key)});` : ''} localStorage.setItem('searchtrack.theme', '${theme}')`)
        await page.goto(d.origin + url)
        // Settled: no loading message left, and charts drawn where there are any.
        await page.locator('main').first().waitFor()
        await page.waitForLoadState('networkidle')
        await page.locator('.loading').first().waitFor({ state: 'hidden' })
        const file = name === 'overview' && width === 1280 && theme === 'light'
          ? path.join(ROOT, 'docs/images/overview.png')
          : path.join(OUT, `${name}-${width}${theme === 'dark' ? '-dark' : ''}.png`)
        await page.screenshot({ path: file, fullPage: true })
        await context.close()
      }
    }
  }
  t.pass(`written to ${OUT} and docs/images/overview.png`)
})
