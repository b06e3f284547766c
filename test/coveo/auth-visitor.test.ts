import t from 'tap'
import { buildTestApp, createKey, manualClock } from '../helpers/app.js'
import { CUSTOM, SEARCH, storedEvents } from './helpers.js'

const URL_CUSTOM = '/rest/ua/v15/analytics/custom'

t.test('auth: Bearer, access_token query or form field; errors per spec', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const customEvent = encodeURIComponent(JSON.stringify(CUSTOM))
  t.equal((await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${key}` }, payload: CUSTOM })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: `${URL_CUSTOM}?access_token=${key}`, payload: CUSTOM })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: URL_CUSTOM, headers: form, payload: `access_token=${key}&customEvent=${customEvent}` })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { 'content-type': 'text/plain' }, payload: `access_token=${key}&customEvent=${customEvent}` })).statusCode, 200, 'text/plain beacon')
  t.equal((await app.inject({ method: 'POST', url: `${URL_CUSTOM}?access_token=${key}`, headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(CUSTOM) })).statusCode, 200, 'text/plain JSON')

  const missing = await app.inject({ method: 'POST', url: URL_CUSTOM, payload: CUSTOM })
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().type, 'MissingToken')
  for (const token of ['nope', 'st_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'eyJhbGciOiJIUzI1NiJ9.eyJvcmdhbml6YXRpb24iOiJhY21lIn0.bad']) {
    const res = await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${token}` }, payload: CUSTOM })
    t.equal(res.statusCode, 400, `unknown token ${token.slice(0, 8)}…`)
    t.equal(res.json().type, 'InvalidToken')
    t.type(res.json().message, 'string')
  }
  const basic = await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: 'Basic abc' }, payload: CUSTOM })
  t.same(basic.json().type, 'InvalidHeadersException')
  const readOnly = await createKey(app, 'acme', ['analytics:read'])
  const forbidden = await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${readOnly.key}` }, payload: CUSTOM })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.json().type, 'Forbidden')

  // An expired search token: 400 InvalidToken, the one answer the JS Search Framework renews on.
  const org = (await app.keys.getOrg('acme'))!
  const expired = app.jwt.sign({ organization: 'acme', exp: Math.floor(Date.now() / 1000) - 60 }, { key: org.jwtSecret, algorithm: 'HS256' })
  const res = await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${expired}` }, payload: CUSTOM })
  t.same(res.json(), { message: 'The access token has expired', type: 'InvalidToken' })
  t.equal(res.statusCode, 400)
  t.equal((await storedEvents(app)).length, 5)
})

t.test('platform keys name the org; per-org allowed origins are enforced', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('beta')
  const platform = await createKey(app, 'acme', ['analytics:push'], ['*'])
  const headers = { authorization: `Bearer ${platform.key}` }
  const noOrg = await app.inject({ method: 'POST', url: URL_CUSTOM, headers, payload: CUSTOM })
  t.equal(noOrg.statusCode, 400)
  t.equal(noOrg.json().type, 'OrgRequired')
  t.match(noOrg.json().message, /org/)
  t.equal((await app.inject({ method: 'POST', url: `${URL_CUSTOM}?org=beta`, headers, payload: CUSTOM })).statusCode, 200)
  t.equal((await storedEvents(app, 'beta')).length, 1)

  const { key } = await createKey(app, 'acme')
  await app.keys.updateOrg('acme', { allowedOrigins: ['https://shop.example.com'] })
  const allowed = await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${key}`, origin: 'https://shop.example.com' }, payload: CUSTOM })
  t.equal(allowed.statusCode, 200)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://shop.example.com')
  t.equal(allowed.headers['access-control-allow-credentials'], 'true')
  t.match(allowed.headers.vary, /Origin/)
  const refused = await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${key}`, origin: 'https://evil.example.com' }, payload: CUSTOM })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().type, 'OriginNotAllowed')
  const preflight = await app.inject({
    method: 'OPTIONS', url: '/rest/ua/v15/analytics/search',
    headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  })
  t.equal(preflight.statusCode, 204, 'preflight without auth')
  t.equal(preflight.headers['access-control-allow-origin'], 'https://shop.example.com')
  t.match(preflight.headers['access-control-allow-headers'], /authorization/)
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
  t.equal((await storedEvents(app)).length, 1)
})

t.test('identity: username only with impersonate, search-token defaults, anonymous stores none', async (t) => {
  const { app } = await buildTestApp(t)
  const plain = await createKey(app, 'acme')
  const impersonate = await createKey(app, 'acme', ['analytics:push', 'impersonate'])
  const post = (token: string, body: object) =>
    app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { authorization: `Bearer ${token}` }, payload: { ...SEARCH, ...body } })

  const minted = await app.inject({
    method: 'POST', url: '/rest/search/v2/token', headers: { authorization: `Bearer ${impersonate.key}` },
    payload: { userIds: [{ name: 'alice@example.com', provider: 'Email Security Provider', type: 'User' }], searchHub: 'Support', pipeline: 'ml', userDisplayName: 'Alice', validFor: 60_000 },
  })
  t.equal(minted.statusCode, 200)
  const searchToken = minted.json().token as string
  t.match(searchToken, /^ey/)

  await post(plain.key, { username: 'mallory' })
  await post(impersonate.key, { username: 'bob@example.com' })
  await post(searchToken, {})
  await post(searchToken, { originLevel1: 'Own', queryPipeline: 'p2', userDisplayName: 'Al' })
  await post(searchToken, { anonymous: true })
  const rows = await storedEvents(app)
  t.match(rows[0], { username: 'anonymous', anonymous: false }, 'an API key without impersonate cannot name the user')
  t.match(rows[1], { username: 'bob@example.com' })
  t.match(rows[2], { username: 'alice@example.com', user_display_name: 'Alice', origin_level1: 'Support', query_pipeline: 'ml' })
  t.match(rows[3], { username: 'alice@example.com', user_display_name: 'Al', origin_level1: 'Own', query_pipeline: 'p2' })
  t.match(rows[4], { username: null, user_display_name: null, anonymous: true })

  const notAllowed = await app.inject({ method: 'POST', url: '/rest/search/v2/token', headers: { authorization: `Bearer ${plain.key}` }, payload: { userIds: [{ name: 'x' }] } })
  t.equal(notAllowed.statusCode, 403)
  const noUsers = await app.inject({ method: 'POST', url: '/rest/search/v2/token', headers: { authorization: `Bearer ${impersonate.key}` }, payload: {} })
  t.same(noUsers.json(), { message: 'Field "userIds" is required', type: 'MissingParameter' })
  const badValidFor = await app.inject({ method: 'POST', url: '/rest/search/v2/token', headers: { authorization: `Bearer ${impersonate.key}` }, payload: { userIds: [{ name: 'x' }], validFor: 'soon' } })
  t.equal(badValidFor.json().type, 'InvalidObject')
})

t.test('visitor: clientId, then cookie vs parameter (the cookie wins unless prioritizeVisitorParameter), else a new id and cookie', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const post = (query: string, body: object, cookies?: Record<string, string>, extra: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `${URL_CUSTOM}${query}`, headers: { authorization: `Bearer ${key}`, ...extra }, cookies, payload: { ...CUSTOM, ...body } })

  t.equal((await post('?visitor=param', { clientId: 'body' }, { visitor: 'cookie' })).json().visitorId, 'body', 'body clientId first')
  t.equal((await post('?visitor=param', {}, { visitor: 'cookie' })).json().visitorId, 'cookie', 'the cookie wins')
  t.equal((await post('?visitor=param&prioritizeVisitorParameter=true', {}, { visitor: 'cookie' })).json().visitorId, 'param', 'unless prioritized')
  t.equal((await post('?visitorId=beacon', {})).json().visitorId, 'beacon', 'visitorId as beacons send it')
  const fresh = await post('', {})
  const id = fresh.json().visitorId
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(fresh.json().clientId, id)
  t.equal(fresh.headers['set-cookie'], `visitor=${id}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax`)
  const https = await post('', {}, undefined, { 'x-forwarded-proto': 'https', origin: 'https://shop.example.com' })
  t.equal(https.statusCode, 200)
  const rows = await storedEvents(app)
  t.same(rows.slice(0, 5).map((r) => r.visitor_id), ['body', 'cookie', 'param', 'beacon', id])
})

t.test('cross-site over HTTPS: the cookie is SameSite=None; Secure', async (t) => {
  const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true' } })
  const { key } = await createKey(app, 'acme')
  const res = await app.inject({
    method: 'POST', url: URL_CUSTOM, payload: CUSTOM,
    headers: { authorization: `Bearer ${key}`, 'x-forwarded-proto': 'https', origin: 'https://shop.example.com', host: 'analytics.example.net' },
  })
  t.match(res.headers['set-cookie'], /; HttpOnly; Secure; SameSite=None$/)
  const same = await app.inject({ method: 'POST', url: URL_CUSTOM, payload: CUSTOM, headers: { authorization: `Bearer ${key}`, host: 'analytics.example.net' } })
  t.match(same.headers['set-cookie'], /; HttpOnly; SameSite=Lax$/, 'same site or plain HTTP: Lax, no Secure')
})

t.test('the 30-minute visit boundary through the HTTP API (manual clock)', async (t) => {
  const clock = manualClock()
  const { app } = await buildTestApp(t, { clock })
  const { key } = await createKey(app, 'acme')
  const log = async () =>
    (await app.inject({ method: 'POST', url: URL_CUSTOM, headers: { authorization: `Bearer ${key}` }, payload: { ...CUSTOM, clientId: 'alice' } })).json().visitId
  const first = await log()
  clock.advance(29 * 60_000 + 59_000)
  t.equal(await log(), first, '29:59 later: same visit')
  clock.advance(30 * 60_000 + 1000)
  const second = await log()
  t.not(second, first, '30:01 later: a new visit')
  const rows = await storedEvents(app)
  t.same(rows.map((r) => r.visit_id), [first, first, second])
})
