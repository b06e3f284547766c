import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'

// Errors raised before or outside any route still answer in the shape of the protocol whose
// paths the request is under (found by the fuzz run of scripts/long-runs.mjs).
t.test('unrouted and framework errors keep each protocol shape', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  const auth = { authorization: `Bearer ${key.key}` }
  const long = 'x'.repeat(5000)

  const coveo = await app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/${long}`, headers: auth })
  t.ok(coveo.statusCode >= 400 && coveo.statusCode < 500, `a long path segment is a 4xx (${coveo.statusCode})`)
  t.match(coveo.json(), { message: String, type: String })

  const badUrl = await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/%E0%A4%A', headers: auth })
  t.equal(badUrl.statusCode, 400)
  t.match(badUrl.json(), { message: String, type: String })

  const workplace = await app.inject({ method: 'GET', url: '/api/ws/v1/analytics/event', headers: auth })
  t.equal(workplace.statusCode, 404)
  t.same(workplace.json(), { errors: ['No route for GET /api/ws/v1/analytics/event'] })
  const workplaceBadUrl = await app.inject({ method: 'POST', url: '/api/ws/v1/%E0%A4%A', headers: auth })
  t.equal(workplaceBadUrl.statusCode, 400)
  t.match(workplaceBadUrl.json(), { errors: [String] })

  const inbenta = await app.inject({ method: 'POST', url: '/v1/%E0%A4%A' })
  t.equal(inbenta.statusCode, 400)
  t.match(inbenta.json(), { error: { code: 400, message: String } })

  // Coveo Event Protocol: the v15 shape, 405 for other methods on its paths.
  for (const url of ['/rest/organizations/acme/events/v1/%E0%A4%A', `/rest/organizations/${long}/events/v1`, '/events/v1/nothing']) {
    const reply = await app.inject({ method: 'POST', url, headers: auth })
    t.ok(reply.statusCode >= 400 && reply.statusCode < 500, `${url.slice(0, 60)}: ${reply.statusCode}`)
    t.match(reply.json(), { message: String, type: String })
  }
  const eventsGet = await app.inject({ method: 'GET', url: '/proxy/rest/organizations/acme/events/v1', headers: auth })
  t.equal(eventsGet.statusCode, 405)
  t.match(eventsGet.json(), { message: String, type: 'MethodNotAllowed' })

  // App Search: `{"errors": [...]}`, also under a proxy segment and before routing.
  for (const [method, url] of [['POST', '/api/as/v1/%E0%A4%A'], ['POST', `/api/as/v1/engines/${long}/click`], ['GET', '/api/as/v1/engines/e/click'], ['POST', '/proxy/api/as/v1/engines/e/nothing'], ['POST', '/proxy/api/as/%E0%A4%A'], ['POST', '//api/as/v1/engines/e/click']] as const) {
    const reply = await app.inject({ method, url, headers: auth })
    t.ok(reply.statusCode >= 400 && reply.statusCode < 500, `${method} ${url.slice(0, 60)}: ${reply.statusCode}`)
    t.match(reply.json(), { errors: [String] })
  }

  // Behavioral Analytics: Elasticsearch's `{"error": {root_cause, type, reason}, "status"}`.
  for (const [method, url] of [['POST', '/_application/%E0%A4%A'], ['POST', `/_application/analytics/${long}/event/search`], ['GET', '/_application/analytics/c/event/search'], ['POST', '/proxy/_application/nothing'], ['POST', '/proxy/_application/%E0%A4%A'], ['POST', '//_application/analytics/c/event/search']] as const) {
    const reply = await app.inject({ method, url, headers: { authorization: `Apikey ${key.key}` } })
    t.ok(reply.statusCode >= 400 && reply.statusCode < 500, `${method} ${url.slice(0, 60)}: ${reply.statusCode}`)
    const body = reply.json()
    t.match(body, { error: { root_cause: [{ type: String, reason: String }], type: String, reason: String }, status: reply.statusCode })
  }
})

t.test('a body sent to an Elastic path no route serves is refused in that path\'s shape', async (t) => {
  const { app } = await buildTestApp(t)
  const long = 'x'.repeat(300)
  for (const url of [`/${long}/api/as/v1/engines/e/click`, '//api/as/v1/engines/e/click', `/${long}/_application/analytics/c/event/search`]) {
    const reply = await app.inject({ method: 'PATCH', url, headers: { 'content-type': 'application/json' }, payload: '{"broken' })
    t.ok(reply.statusCode >= 400 && reply.statusCode < 500, `${url.slice(0, 40)}: ${reply.statusCode}`)
    const body = reply.json()
    t.ok(url.includes('/api/as/') ? Array.isArray(body.errors) : typeof body.error?.reason === 'string', `${url.slice(0, 40)}: ${reply.body.slice(0, 120)}`)
  }
})

t.test('Event Protocol and Elastic refusals of the root limits keep their shapes', async (t) => {
  const { app } = await buildTestApp(t, { env: { JSON_MAX_DEPTH: '8', BODY_LIMIT_BYTES: '10000' } })
  const key = await createKey(app, 'acme')
  const deep = '[' + '['.repeat(20) + ']'.repeat(20) + ']'
  const big = JSON.stringify({ x: 'y'.repeat(20000) })
  const cases: Array<[string, Record<string, string>, string, (body: Record<string, unknown>) => boolean]> = [
    ['/events/v1', { authorization: `Bearer ${key.key}` }, 'coveo', (b) => typeof b.message === 'string' && typeof b.type === 'string'],
    ['/api/as/v1/engines/e/click', { authorization: `Bearer ${key.key}` }, 'app-search', (b) => Array.isArray(b.errors) && typeof (b.errors as unknown[])[0] === 'string'],
    ['/_application/analytics/c/event/search', { authorization: `Apikey ${key.key}` }, 'elastic', (b) => typeof (b.error as { reason?: unknown })?.reason === 'string' && typeof b.status === 'number'],
  ]
  for (const [url, headers, name, shaped] of cases) {
    for (const [what, payload, status] of [['too deep', deep, 400], ['too large', big, 413], ['bad UTF-8', Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]), 400]] as const) {
      const reply = await app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload })
      t.equal(reply.statusCode, status, `${name}: ${what}`)
      t.ok(shaped(reply.json()), `${name}: ${what} in its shape: ${reply.body.slice(0, 200)}`)
    }
  }
})

t.test('Inbenta bodies go through the root JSON checks (depth, encoding)', async (t) => {
  const { app } = await buildTestApp(t, { env: { JSON_MAX_DEPTH: '8' } })
  const deep = '{"secret":' + '['.repeat(20) + ']'.repeat(20) + '}'
  const reply = await app.inject({ method: 'POST', url: '/v1/auth', headers: { 'content-type': 'application/json', 'x-inbenta-key': '0123456789abcdef' }, payload: deep })
  t.equal(reply.statusCode, 400)
  t.match(reply.json(), { error: { code: 400, message: /deeper than 8/ } })
  const latin1 = await app.inject({ method: 'POST', url: '/v1/auth', headers: { 'content-type': 'application/json', 'x-inbenta-key': '0123456789abcdef' }, payload: Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]) })
  t.equal(latin1.statusCode, 400)
  t.match(latin1.json(), { error: { message: /UTF-8/ } })
})

t.test('Coveo beacon bodies (form field, text/plain) have the same nesting limit as JSON bodies', async (t) => {
  const { app } = await buildTestApp(t, { env: { JSON_MAX_DEPTH: '8' } })
  const key = await createKey(app, 'acme')
  const deep = JSON.stringify({ actionCause: 'x', customData: { a: JSON.parse('['.repeat(20) + ']'.repeat(20)) } })
  const form = await app.inject({
    method: 'POST',
    url: `/rest/ua/v15/analytics/click?access_token=${key.key}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `clickEvent=${encodeURIComponent(deep)}`,
  })
  t.equal(form.statusCode, 400)
  t.match(form.json(), { type: 'JsonTooDeep', message: /deeper than 8/ })
  const text = await app.inject({
    method: 'POST',
    url: `/rest/ua/v15/analytics/custom?access_token=${key.key}`,
    headers: { 'content-type': 'text/plain' },
    payload: deep,
  })
  t.equal(text.statusCode, 400)
  t.match(text.json(), { type: 'JsonTooDeep' })
})
