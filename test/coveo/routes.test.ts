import t from 'tap'
import { buildTestApp, createKey, manualClock } from '../helpers/app.js'
import { CLICK, CUSTOM, SEARCH, VIEW, storedEvents } from './helpers.js'

const VISITOR = '8d6888fc-a625-4811-ba98-25aaefb30814'

t.test('every path shape reaches the handlers and stores the event', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const bases = ['/rest/ua/v15/analytics', '/rest/v15/analytics', '/v15/analytics', '/my-proxy/v15/analytics', '/rest/ua/v15']
  for (const base of bases) {
    for (const [type, body] of [['search', SEARCH], ['click', CLICK], ['custom', CUSTOM], ['view', VIEW], ['collect', { t: 'pageview', cid: VISITOR }]] as const) {
      const res = await app.inject({
        method: 'POST', url: `${base}/${type}?visitor=${VISITOR}`,
        headers: { authorization: `Bearer ${key}` }, payload: body,
      })
      t.equal(res.statusCode, 200, `POST ${base}/${type}`)
      t.match(res.headers['content-type'], /application\/json/)
    }
    const batch = await app.inject({
      method: 'POST', url: `${base}/searches`, headers: { authorization: `Bearer ${key}` },
      payload: [SEARCH, { ...SEARCH, queryText: 'second' }],
    })
    t.equal(batch.statusCode, 200, `POST ${base}/searches`)
    t.equal(batch.json().searchEventResponses.length, 2)
  }
  const rows = await storedEvents(app)
  t.equal(rows.length, bases.length * 7)
  t.same([...new Set(rows.map((r) => r.protocol))], ['coveo'])
})

t.test('responses per event type echo the client id and carry the visit', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const headers = { authorization: `Bearer ${key}` }
  const search = await app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/search?visitor=${VISITOR}`, headers, payload: { ...SEARCH, clientId: VISITOR } })
  const body = search.json()
  t.same(Object.keys(body).sort(), ['clientId', 'searchEventUid', 'visitId', 'visitorId'])
  t.equal(body.visitorId, VISITOR)
  t.equal(body.clientId, VISITOR)
  t.match(body.visitId, /^[0-9a-f-]{36}$/)
  t.equal(search.headers['set-cookie'], undefined, 'no cookie when the client has an id')
  const [row] = await storedEvents(app)
  t.equal(row!.event_id, body.searchEventUid)
  t.equal(row!.visit_id, body.visitId)

  for (const [type, payload] of [['click', CLICK], ['custom', CUSTOM], ['view', VIEW]] as const) {
    const res = await app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/${type}?visitor=${VISITOR}`, headers, payload })
    t.same(res.json(), { visitId: body.visitId, visitorId: VISITOR, clientId: VISITOR }, type)
  }
  const collect = await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/collect', headers, payload: { t: 'event', cid: VISITOR } })
  t.same(collect.json(), {})
  const beacon = await app.inject({
    method: 'POST', url: `/rest/ua/v15/analytics/click?access_token=${key}&visitorId=${VISITOR}&discardVisitInfo=true`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `clickEvent=${encodeURIComponent(JSON.stringify(CLICK))}`,
  })
  t.equal(beacon.statusCode, 200)
  t.equal(beacon.body, '', 'discardVisitInfo: empty body')
  t.equal((await storedEvents(app)).at(-1)!.visitor_id, VISITOR)
})

t.test('visit, health and status answer without credentials; GET logging is 405', async (t) => {
  const { app } = await buildTestApp(t)
  for (const base of ['/rest/ua/v15/analytics', '/rest/v15/analytics', '/rest/ua/v15']) {
    t.same((await app.inject(`${base}/monitoring/health`)).json(), { status: 'UP' })
    t.same((await app.inject(`${base}/status`)).json(), { status: 'online' })
    const visit = await app.inject(`${base}/visit`)
    t.equal(visit.statusCode, 200)
    const v = visit.json()
    t.match(v.visitorId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a new UUID v4')
    t.equal(v.clientId, v.visitorId)
    t.match(visit.headers['set-cookie'], new RegExp(`^visitor=${v.visitorId}; Max-Age=31536000; Path=/; HttpOnly`))
    const get = await app.inject(`${base}/search?visitor=x`)
    t.equal(get.statusCode, 405)
    t.equal(get.headers.allow, 'POST')
    t.same(get.json().type, 'MethodNotAllowed')
    t.match(get.json().message, /use POST/)
    const del = await app.inject({ method: 'DELETE', url: `${base}/visit`, cookies: { visitor: 'abc' } })
    t.equal(del.statusCode, 200)
    t.same(del.json(), {})
    t.match(del.headers['set-cookie'], /^visitor=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970/)
  }
})

t.test('GET visit with a token gives the current visit; DELETE visit ends it', async (t) => {
  const clock = manualClock()
  const { app } = await buildTestApp(t, { clock })
  const { key } = await createKey(app, 'acme')
  const headers = { authorization: `Bearer ${key}` }
  const logged = (await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/custom', headers, payload: { ...CUSTOM, clientId: 'v1' } })).json()
  const visit = await app.inject({ url: '/rest/ua/v15/analytics/visit?visitor=v1', headers })
  t.same(visit.json(), { id: logged.visitId, visitorId: 'v1', clientId: 'v1' })
  await app.inject({ method: 'DELETE', url: '/rest/ua/v15/analytics/visit', headers, cookies: { visitor: 'v1' } })
  const next = (await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/custom', headers, payload: { ...CUSTOM, clientId: 'v1' } })).json()
  t.not(next.visitId, logged.visitId, 'a new visit after DELETE visit')
})

t.test('unknown paths and types answer JSON errors', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const unknownType = await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/bogus', headers: { authorization: `Bearer ${key}` }, payload: {} })
  t.equal(unknownType.statusCode, 404)
  t.equal(unknownType.json().type, 'NotFound')
  const deep = await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/a/b/c', payload: {} })
  t.equal(deep.statusCode, 404)
  t.same(Object.keys(deep.json()).sort(), ['message', 'type'])
  const put = await app.inject({ method: 'PUT', url: '/rest/ua/v15/analytics/search', payload: {} })
  t.equal(put.statusCode, 404)
  t.equal(put.json().type, 'NotFound')
})
