import t from 'tap'
import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { storedEvents } from './helpers.js'

const require = createRequire(import.meta.url)
const BUNDLE = require.resolve('coveo.analytics/dist/coveoua.browser.js')

// A real browser is the only judge of CORS and cookies: a page on one origin (127.0.0.1:A) loads
// coveo.analytics' browser bundle and logs to searchtrack on another (127.0.0.1:B). The search
// goes by fetch with credentials and Authorization (a real preflight), the click by a real
// navigator.sendBeacon (form-urlencoded, token in the query, no preflight, answer never read).
t.test('coveo.analytics in headless Chromium: search by fetch, click by sendBeacon', async (t) => {
  const seen: Array<{ method: string; url: string; contentType?: string; status: number }> = []
  let clickDone!: () => void
  const clickLanded = new Promise<void>((resolve) => (clickDone = resolve))
  const { app } = await buildTestApp(t, {
    beforeRegister: (server) =>
      server.addHook('onResponse', async (request, reply) => {
        seen.push({ method: request.method, url: request.url, contentType: request.headers['content-type'], status: reply.statusCode })
        if (request.method === 'POST' && request.url.includes('/analytics/click')) clickDone()
      }),
  })
  const { key } = await createKey(app, 'acme')
  const endpoint = await listen(app)

  const page = Fastify()
  const bundle = await readFile(BUNDLE, 'utf8')
  page.get('/favicon.ico', (_req, reply) => reply.code(204).send())
  page.get('/coveoua.js', (_req, reply) => reply.type('text/javascript').send(bundle))
  page.get('/', (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(`<!doctype html><html><head><meta charset="utf-8"><script src="/coveoua.js"></script></head><body>
<script>
  window.run = async () => {
    const client = new coveoanalytics.CoveoAnalyticsClient({ token: ${JSON.stringify(key)}, endpoint: ${JSON.stringify(endpoint)} })
    const search = await client.sendSearchEvent({
      language: 'en', queryText: 'browser query', actionCause: 'searchboxSubmit', responseTime: 12,
      numberOfResults: 3, searchQueryUid: '22222222-2222-4333-8444-555555555555', originLevel1: 'BrowserHub',
    })
    await client.sendClickEvent({
      language: 'en', actionCause: 'documentOpen', documentPosition: 1, sourceName: 'Docs',
      documentTitle: 'Été & co', documentUrl: 'https://e.com/d?a=1&b=2', originLevel1: 'BrowserHub',
      searchQueryUid: '22222222-2222-4333-8444-555555555555',
      customData: { contentIDKey: 'permanentid', contentIDValue: 'pid-1' },
    })
    return { search, visitorId: await client.getCurrentVisitorId() }
  }
</script></body></html>`),
  )
  await page.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => page.close())
  const address = page.server.address()
  const pageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  const tab = await browser.newPage()
  const consoleErrors: string[] = []
  tab.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text())
  })
  await tab.goto(pageUrl)
  const result = (await tab.evaluate('window.run()')) as { search: { visitorId: string; visitId: string; searchEventUid: string }; visitorId: string }
  await clickLanded

  t.same(consoleErrors, [], 'no CORS or network error in the page')
  t.equal(result.search.visitorId, result.visitorId, 'the browser client kept its own visitor id')
  const preflight = seen.find((r) => r.method === 'OPTIONS' && r.url.includes('/analytics/search'))
  t.ok(preflight, 'the search was preflighted')
  t.equal(preflight!.status, 204)
  const click = seen.find((r) => r.method === 'POST' && r.url.includes('/analytics/click'))!
  t.match(click.contentType, /application\/x-www-form-urlencoded/, 'the click came as a beacon')
  t.match(click.url, /access_token=.*discardVisitInfo=true/)
  t.notOk(seen.some((r) => r.method === 'OPTIONS' && r.url.includes('/analytics/click')), 'no preflight for the beacon')

  const rows = await storedEvents(app)
  t.same(rows.map((r) => r.type), ['search', 'click'])
  t.match(rows[0], { query_text: 'browser query', origin_level1: 'BrowserHub', visitor_id: result.visitorId, event_id: result.search.searchEventUid, visit_id: result.search.visitId })
  t.match(rows[0]!.browser, /^Chrome/)
  t.match(rows[1], { document_title: 'Été & co', document_url: 'https://e.com/d?a=1&b=2', document_id: 'pid-1', visitor_id: result.visitorId, visit_id: result.search.visitId })
})
