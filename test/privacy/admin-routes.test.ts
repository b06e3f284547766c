import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helpers/app.js'
import { HttpClient, halves } from '../inbenta/helpers.js'
import { listen } from '../helpers/app.js'

const VISITOR = 'vis-erin-0b4d7e'
const USER = 'erin.private@example.org'

async function admin(app: FastifyInstance, method: 'POST' | 'PUT' | 'PATCH', url: string, key: string, payload?: unknown) {
  return app.inject({ method, url: `/api/v1/admin/orgs/acme${url}`, headers: { authorization: `Bearer ${key}` }, payload: payload as object })
}

async function auditRows(app: FastifyInstance): Promise<Array<Record<string, unknown>>> {
  return (await app.db.query('SELECT actor, org_id, action, target, details::text AS details FROM audit_log ORDER BY id')).rows
}

t.test('export and erase over HTTP: NDJSON, removed per table, audit entries without the identifiers', async (t) => {
  const { app } = await buildTestApp(t)
  const push = await createKey(app, 'acme')
  const adminKey = await createKey(app, 'acme', ['admin'])
  const token = await app.auth.signSearchToken('acme', { userIds: [{ name: USER }] }, 3600)
  for (const uid of ['aaaaaaaa-1111-4111-8111-111111111111', 'bbbbbbbb-1111-4111-8111-111111111111']) {
    const r = await app.inject({
      method: 'POST', url: `/rest/ua/v15/analytics/search?visitor=${VISITOR}`, headers: { authorization: `Bearer ${token}` },
      payload: { language: 'en', queryText: 'hello', actionCause: 'searchboxSubmit', searchQueryUid: uid, responseTime: 5, numberOfResults: 1 },
    })
    t.equal(r.statusCode, 200, r.body)
  }
  await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/search?visitor=someone-else', headers: { authorization: `Bearer ${push.key}` }, payload: { language: 'en', queryText: 'x', actionCause: 'searchboxSubmit', responseTime: 5, numberOfResults: 1, searchQueryUid: randomUUID() } })

  const exported = await admin(app, 'POST', '/privacy/export', adminKey.key, { visitorId: VISITOR })
  t.equal(exported.statusCode, 200)
  t.match(exported.headers['content-type'], /^application\/x-ndjson/)
  const lines = exported.body.trim().split('\n').map((l) => JSON.parse(l))
  t.equal(lines.filter((l) => l.table === 'events').length, 2)
  t.ok(lines.every((l) => l.table !== 'events' || l.row.visitor_id === VISITOR), 'only their events')
  t.same(lines.at(-1), { summary: { events: 2, visitors: 1 } })

  const erased = await admin(app, 'POST', '/privacy/erase', adminKey.key, { userName: USER })
  t.equal(erased.statusCode, 200)
  t.match(erased.json(), { data: { removed: { events: 2 } } })
  const again = await admin(app, 'POST', '/privacy/erase', adminKey.key, { userName: USER })
  t.same(Object.values(again.json().data.removed).filter((n) => n !== 0), [], 'idempotent')
  t.equal((await app.db.query(`SELECT 1 FROM events WHERE org_id = 'acme' AND protocol = 'coveo'`)).rowCount, 1, 'the other visitor\'s event stays')

  // By a field of Inbenta user information: every session token that sent it.
  const base = await listen(app)
  const { keyId, secret } = halves(push)
  for (const email of [USER, 'someone.else@example.org']) {
    const client = new HttpClient(base, keyId)
    await client.auth(secret)
    await client.openSession()
    t.equal((await client.request('POST', '/v1/tracking/session/user', { data: { email } })).status, 200)
  }
  const byField = await admin(app, 'POST', '/privacy/erase', adminKey.key, { inbentaUser: { field: 'email', value: USER } })
  t.match(byField.json(), { data: { removed: { events: 2, visitors: 1 } } }, 'the session start and user info of that token')
  t.equal((await app.db.query(`SELECT 1 FROM events WHERE custom_data->>'email' = 'someone.else@example.org'`)).rowCount, 1, 'the other token\'s stay')

  // Refusals in the admin error shape.
  const cases: Array<[string, unknown, number]> = [
    ['/privacy/erase', {}, 400],
    ['/privacy/erase', { visitorId: 'a', userName: 'b' }, 400],
    ['/privacy/erase', { visitorId: '' }, 400],
    ['/privacy/erase', { email: 'x' }, 400],
    ['/privacy/erase', { inbentaUser: { field: 'email' } }, 400],
    ['/privacy/export', { inbentaSession: 'not-a-session' }, 200],
  ]
  for (const [url, body, status] of cases) {
    const r = await admin(app, 'POST', url, adminKey.key, body)
    t.equal(r.statusCode, status, `${url} ${JSON.stringify(body)}`)
    if (status !== 200) t.match(r.json(), { message: String, type: String })
  }
  t.equal((await admin(app, 'POST', '/privacy/erase', push.key, { visitorId: 'v' })).statusCode, 403, 'a key without admin')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/admin/orgs/acme/privacy/erase', payload: { visitorId: 'v' } })).statusCode, 401)
  const other = await createKey(app, 'other', ['admin'])
  t.equal((await admin(app, 'POST', '/privacy/erase', other.key, { visitorId: 'v' })).statusCode, 403, 'an admin of another org')

  const audit = await auditRows(app)
  t.same(audit.map((a) => a.action), ['privacy.export', 'privacy.erase', 'privacy.erase', 'privacy.erase', 'privacy.export'])
  t.ok(audit.every((a) => a.actor === `key:${adminKey.id}` && a.org_id === 'acme'))
  const text = JSON.stringify(audit)
  for (const secret of [VISITOR, USER, adminKey.key, push.key, token]) t.notOk(text.includes(secret), 'no identifier or secret in the audit log')
})

t.test('retention and identity controls over HTTP; identity applied to every protocol in the writer', async (t) => {
  const { app } = await buildTestApp(t)
  const push = await createKey(app, 'acme', ['analytics:push', 'analytics:read'])
  const adminKey = await createKey(app, 'acme', ['admin'])

  const retention = await admin(app, 'PUT', '/retention', adminKey.key, { rawDays: 30, rollupDays: 400 })
  t.equal(retention.statusCode, 200)
  t.same(retention.json(), { data: { rawDays: 30, rollupDays: 400 } })
  t.equal((await admin(app, 'PUT', '/retention', adminKey.key, { rawDays: 0, rollupDays: null })).statusCode, 400)
  t.equal((await admin(app, 'PUT', '/retention', adminKey.key, { rawDays: 10 })).statusCode, 400, 'both are named')
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/admin/orgs/nope/retention', headers: { authorization: `Bearer ${adminKey.key}` }, payload: { rawDays: 1, rollupDays: 1 } })).statusCode, 403)

  // Defaults: the user kept, the address masked.
  const token = await app.auth.signSearchToken('acme', { userIds: [{ name: USER }], userDisplayName: 'Erin' }, 3600)
  const send = async (label: string) => {
    const coveo = await app.inject({
      method: 'POST', url: `/rest/ua/v15/analytics/search?visitor=${VISITOR}`, headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.77' },
      payload: { queryText: label, language: 'en', actionCause: 'searchboxSubmit', responseTime: 5, numberOfResults: 1, searchQueryUid: randomUUID() },
    })
    t.equal(coveo.statusCode, 200, coveo.body)
    const appSearch = await app.inject({
      method: 'POST', url: '/api/as/v1/engines/docs/click', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ query: label, document_id: 'd1' }),
    })
    t.equal(appSearch.statusCode, 200)
    const workplace = await app.inject({
      method: 'POST', url: '/api/ws/v1/analytics/event', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ type: 'click', query_id: label, document_id: 'd2', page: 1, rank: 0, content_source_id: 'src', event: 'api' }),
    })
    t.equal(workplace.statusCode, 200, workplace.body)
  }
  const rows = async (label: string) =>
    (await app.db.query(`SELECT protocol, visitor_id, username, user_display_name, client_ip, anonymous FROM events WHERE query_text = $1 OR search_query_uid = $1 ORDER BY protocol`, [label])).rows
  await send('defaults')
  for (const r of await rows('defaults')) {
    t.equal(r.username, USER, `${r.protocol}: user kept by default`)
    t.ok(r.client_ip === null || /\.0$|::$/.test(r.client_ip), `${r.protocol}: address masked (${r.client_ip})`)
  }

  const identity = await admin(app, 'PATCH', '/identity', adminKey.key, { userPolicy: 'hash', ipPolicy: 'hash' })
  t.same(identity.json(), { data: { anonymous: false, ipPolicy: 'hash', userPolicy: 'hash' } })
  await send('hashed')
  const hashed = await rows('hashed')
  t.equal(hashed.length, 3)
  const digests = new Set(hashed.map((r) => r.username))
  t.equal(digests.size, 1, 'one stable digest of the user across protocols')
  t.match([...digests][0], /^h:[0-9a-f]{32}$/)
  t.ok(hashed.every((r) => r.user_display_name === null && !JSON.stringify(r).includes(USER)))

  t.equal((await admin(app, 'PATCH', '/identity', adminKey.key, { anonymous: true, ipPolicy: 'none' })).statusCode, 200)
  await send('anonymous')
  const anonymous = await rows('anonymous')
  t.equal(anonymous.length, 3)
  for (const r of anonymous) t.match(r, { username: null, user_display_name: null, client_ip: null, anonymous: true }, r.protocol)
  t.ok(anonymous.every((r) => r.visitor_id !== USER), 'the user is not kept as a visitor either')

  // Inbenta: the user information of a session is the user's identity itself.
  const base = await listen(app)
  const { keyId, secret } = halves(push)
  const client = new HttpClient(base, keyId)
  await client.auth(secret)
  await client.openSession()
  t.equal((await client.request('POST', '/v1/tracking/session/user', { data: { email: USER } })).status, 200)
  t.equal((await app.db.query(`SELECT 1 FROM events WHERE custom_data::text LIKE '%' || $1 || '%'`, [USER])).rowCount, 0, 'Inbenta user info not stored')

  t.equal((await admin(app, 'PATCH', '/identity', adminKey.key, {})).statusCode, 400)
  t.equal((await admin(app, 'PATCH', '/identity', adminKey.key, { ipPolicy: 'full' })).statusCode, 400)

  const audit = (await app.db.query('SELECT action, details::text AS details FROM audit_log ORDER BY id')).rows
  t.same(audit.map((a) => a.action), ['retention.update', 'org.identity.update', 'org.identity.update'])
  t.notOk(JSON.stringify(audit).includes(adminKey.key))
})
