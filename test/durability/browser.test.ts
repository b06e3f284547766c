import t from 'tap'
import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import { CoveoAnalyticsClient } from 'coveo.analytics'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { launchChromium, pageServer, RequestLog } from '../helpers/browser.js'

// What a page of another origin can do in a real browser: never read the HttpOnly visitor cookie's
// value unless an organization lists that origin; never read anything from a `null` origin; send
// the headers the docs advertise (Idempotency-Key); and the real client's DELETE …/visit works.

const require = createRequire(import.meta.url)
const COVEOUA = require.resolve('coveo.analytics/dist/coveoua.browser.js')

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><script src="/page.js"></script></head><body>
<iframe id="sandboxed" sandbox="allow-scripts"></iframe></body></html>`

t.test('visitor cookie, null origin, Idempotency-Key and DELETE …/visit in Chromium', async (t) => {
  const requests = new RequestLog()
  const { app } = await buildTestApp(t, { beforeRegister: requests.hook })
  const key = await createKey(app, 'acme')
  const endpoint = await listen(app)
  const script = await readFile(COVEOUA, 'utf8')
  // Two pages on other origins of the same site (127.0.0.1, other ports): the browser sends the
  // SameSite=Lax visitor cookie with their credentialed requests. Only the second one's origin is
  // listed by an organization.
  const stranger = await pageServer(t, PAGE, script)
  const listed = await pageServer(t, PAGE, script)
  await app.keys.createOrg('shop')
  await app.keys.updateOrg('shop', { allowedOrigins: [listed] })
  const shopKey = (await app.keys.createKey({ orgId: 'shop', privileges: ['analytics:push'] })).key

  const browser = await launchChromium(t)
  const context = await browser.newContext()
  // The visitor's cookie, set first-party (a visit of searchtrack's own origin).
  const own = await context.newPage()
  await own.goto(`${endpoint}/rest/ua/v15/analytics/visit`)
  const cookie = (await context.cookies(endpoint)).find((c) => c.name === 'visitor')!
  t.ok(cookie?.httpOnly, 'the visitor cookie is HttpOnly')

  const readVisit = (page: import('playwright-core').Page, token?: string) =>
    page.evaluate(
      async ({ endpoint, token }) => {
        const r = await fetch(`${endpoint}/rest/ua/v15/analytics/visit${token ? `?access_token=${token}` : ''}`, { credentials: 'include' })
        return (await r.json()) as { visitorId: string | null }
      },
      { endpoint, token },
    )
  const strangerPage = await context.newPage()
  await strangerPage.goto(stranger)
  t.equal((await readVisit(strangerPage)).visitorId, null, 'a page of an unlisted origin cannot read the cookie\'s value')
  t.equal((await readVisit(strangerPage, key.key)).visitorId, null, 'nor with the token of an org that allows any origin')
  const searched = await strangerPage.evaluate(async ({ endpoint, token }) => {
    const r = await fetch(`${endpoint}/rest/ua/v15/analytics/search`, {
      method: 'POST', credentials: 'include', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'en', queryText: 'q', actionCause: 'searchboxSubmit', responseTime: 1, searchQueryUid: '00000000-0000-4000-8000-000000000001' }),
    })
    return { status: r.status, body: (await r.json()) as { visitorId: string | null } }
  }, { endpoint, token: key.key })
  t.equal(searched.status, 200, 'its events are still logged')
  t.equal(searched.body.visitorId, null, 'and answered without the cookie\'s value')
  const { rows } = await app.db.query('SELECT visitor_id FROM events')
  t.same(rows, [{ visitor_id: cookie.value }], 'the event is still the cookie\'s visitor\'s')

  const listedPage = await context.newPage()
  await listedPage.goto(listed)
  t.equal((await readVisit(listedPage)).visitorId, cookie.value, 'an origin an organization lists may read it')
  t.equal((await readVisit(listedPage, shopKey)).visitorId, cookie.value, 'with that organization\'s token too')

  // A sandboxed frame has the origin `null`: never answered with credentials.
  const fromNull = await listedPage.evaluate(async (endpoint) => {
    // (This runs in the page; the test is compiled without the DOM's types.)
    const page = globalThis as unknown as {
      document: { getElementById(id: string): { srcdoc: string } }
      addEventListener(type: 'message', listener: (e: { data: unknown }) => void, options: { once: boolean }): void
    }
    const frame = page.document.getElementById('sandboxed')
    const result = new Promise<string>((resolve) => page.addEventListener('message', (e) => resolve(String(e.data)), { once: true }))
    frame.srcdoc = `<script>fetch(${JSON.stringify(`${endpoint}/rest/ua/v15/analytics/visit`)}, { credentials: 'include' })
      .then((r) => r.text()).then((text) => parent.postMessage('read: ' + text, '*'), (e) => parent.postMessage('refused: ' + e.name, '*'))</script>`
    return result
  }, endpoint)
  t.equal(fromNull, 'refused: TypeError', 'a page of origin null cannot read an answer')
  t.ok(requests.seen.some((r) => r.headers.origin === 'null'), '(the request did reach the service)')

  // The header the docs advertise for retries, from a browser: allowed by the preflight.
  const idempotent = await strangerPage.evaluate(async ({ endpoint, token }) => {
    const send = () => fetch(`${endpoint}/api/ws/v1/analytics/event`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'click-1' },
      body: JSON.stringify({ type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' }),
    }).then((r) => r.status)
    return [await send(), await send()]
  }, { endpoint, token: key.key })
  t.same(idempotent, [200, 200], 'Idempotency-Key passes the preflight')
  const { rows: clicks } = await app.db.query(`SELECT count(*)::int AS n FROM events WHERE protocol = 'workplace'`)
  t.equal(clicks[0].n, 1, 'and the retry is stored once')

  // coveo.analytics' own deleteHttpOnlyVisitorId(): DELETE with a JSON content type, no body.
  await listedPage.evaluate(({ endpoint, token }) => {
    const client = new (globalThis as unknown as { coveoanalytics: { CoveoAnalyticsClient: new (o: object) => { deleteHttpOnlyVisitorId(): void } } })
      .coveoanalytics.CoveoAnalyticsClient({ token, endpoint })
    client.deleteHttpOnlyVisitorId()
  }, { endpoint, token: shopKey })
  await requests.waitFor((r) => r.method === 'DELETE' && r.url.includes('/analytics/visit'))
  const deleted = requests.seen.find((r) => r.method === 'DELETE')!
  t.equal(deleted.status, 200, 'the browser client\'s DELETE …/visit answers 200')
  t.equal(deleted.headers['content-type'], 'application/json', '(sent with a JSON content type)')
})

t.test('the real client in Node: DELETE …/visit answers 200; over HTTPS the cookie is Secure', async (t) => {
  const requests = new RequestLog()
  const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true' }, beforeRegister: requests.hook })
  const { key } = await createKey(app, 'acme')
  const endpoint = await listen(app)
  const client = new CoveoAnalyticsClient({ token: key, endpoint }) as unknown as { deleteHttpOnlyVisitorId(): void }
  client.deleteHttpOnlyVisitorId()
  await requests.waitFor((r) => r.method === 'DELETE')
  t.equal(requests.seen.find((r) => r.method === 'DELETE')!.status, 200)

  // Behind a TLS-terminating proxy, same-site: `Secure` (never sent in clear), SameSite=Lax.
  const visit = await app.inject({ url: '/rest/ua/v15/analytics/visit', headers: { 'x-forwarded-proto': 'https' } })
  t.match(visit.headers['set-cookie'], /^visitor=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
  const plain = await app.inject({ url: '/rest/ua/v15/analytics/visit' })
  t.notMatch(plain.headers['set-cookie'], /Secure/, 'not over plain HTTP (a browser would drop it)')
})
