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
