import t from 'tap'
import { buildTestApp, createKey, listen } from '../helpers/app.js'

const PATH = '/api/ws/v1/analytics/event'
const click = { type: 'click', query_id: 'q', page: 1, content_source_id: 'c', document_id: 'd', rank: 0, event: 'api' }

t.test('a browser preflight allows the headers Elastic clients send; per-org origins are enforced', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  await app.keys.updateOrg('acme', { allowedOrigins: ['https://intranet.example'] })
  const base = await listen(app)

  const preflight = await fetch(base + PATH, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://intranet.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,x-elastic-client-meta',
    },
  })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), 'https://intranet.example')
  t.match(preflight.headers.get('access-control-allow-methods'), /POST/)
  const allowed = preflight.headers.get('access-control-allow-headers')!.split(',').map((h) => h.trim().toLowerCase())
  for (const header of ['authorization', 'content-type', 'x-elastic-client-meta']) t.ok(allowed.includes(header), `allows ${header}`)

  const post = (origin: string) =>
    fetch(base + PATH, {
      method: 'POST',
      headers: { origin, authorization: `Bearer ${key.key}`, 'content-type': 'application/json', 'x-elastic-client-meta': 'ent=8.18.0,js=20' },
      body: JSON.stringify(click),
    })
  const fromIntranet = await post('https://intranet.example')
  t.equal(fromIntranet.status, 200)
  t.equal(fromIntranet.headers.get('access-control-allow-origin'), 'https://intranet.example')
  t.match(fromIntranet.headers.get('access-control-expose-headers'), /x-request-id/i)
  const fromElsewhere = await post('https://evil.example')
  t.equal(fromElsewhere.status, 403)
  t.same(await fromElsewhere.json(), { errors: ['Origin https://evil.example is not allowed for organization acme'] })
  const { rows } = await app.db.query('SELECT extra FROM events')
  t.equal(rows.length, 1, 'only the allowed origin\'s event is stored')
  t.equal(rows[0].extra.clientMeta, 'ent=8.18.0,js=20', 'the client identity header is kept')
})

t.test('both paths, unknown query parameters, X-Request-Id and metrics', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  const authorization = `Bearer ${key.key}`
  for (const url of [PATH, `${PATH}/`, `${PATH}?foo=bar&fail400=1`]) {
    const res = await app.inject({ method: 'POST', url, headers: { authorization, 'x-request-id': 'req-42' }, payload: click })
    t.equal(res.statusCode, 200, url)
    t.equal(res.body, '{}', `${url}: the body is {}`)
    t.match(res.headers['content-type'], /^application\/json/, `${url}: JSON`)
    t.equal(res.headers['x-request-id'], 'req-42', `${url}: the request id is returned`)
  }
  const bad = await app.inject({ method: 'POST', url: PATH, headers: { authorization }, payload: { type: 'click' } })
  t.equal(bad.statusCode, 400)
  t.ok(bad.headers['x-request-id'], 'an error carries a request id too')
  await app.inject({ method: 'POST', url: PATH, payload: click })

  const accepted = (await app.metrics.eventsAccepted.get()).values
  t.same(accepted.map((v) => [v.labels, v.value]), [[{ protocol: 'workplace', type: 'click' }, 3]])
  const rejected = (await app.metrics.eventsRejected.get()).values.map((v) => [v.labels.reason, v.value]).sort()
  t.same(rejected, [['InvalidEvent', 1], ['MissingToken', 1]])
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 3)
})

t.test('a storage failure is a 500 that hides the cause, never a 502/503/504 a client would retry', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  // Inject the fault: the events table is gone, so the batch fails inside PostgreSQL.
  await app.db.query('ALTER TABLE events RENAME TO events_elsewhere')
  const res = await app.inject({ method: 'POST', url: PATH, headers: { authorization: `Bearer ${key.key}` }, payload: click })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { errors: ['Internal error'] }, 'no SQL, no stack')
  await app.db.query('ALTER TABLE events_elsewhere RENAME TO events')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0)
})
