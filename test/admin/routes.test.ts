import t from 'tap'
import { runCli } from '../../src/cli.js'
import { buildTestApp, createKey } from '../helpers/app.js'

const json = { 'content-type': 'application/json' }
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

t.test('an org admin key manages its own organization: keys, origins, Inbenta priorities; every change audited, no secret', async (t) => {
  const { app, databaseUrl, config } = await buildTestApp(t)
  const admin = await createKey(app, 'acme', ['admin', 'analytics:read'])
  const other = await createKey(app, 'globex', ['admin'])
  const call = (method: string, url: string, key: string, body?: unknown) =>
    app.inject({ method: method as 'GET', url: `/api/v1/admin${url}`, headers: { ...bearer(key), ...(body ? json : {}) }, payload: body ? JSON.stringify(body) : undefined })

  t.same((await call('GET', '/orgs', admin.key)).json().data.map((o: { id: string }) => o.id), ['acme'], 'only its own org is listed')
  const org = (await call('GET', '/orgs/acme', admin.key)).json().data
  t.same(Object.keys(org).sort(), ['allowedOrigins', 'createdAt', 'id', 'name'], 'never the token-signing secret')

  // A key for a search page, created and revoked through the routes.
  const created = await call('POST', '/orgs/acme/keys', admin.key, { privileges: ['analytics:push'], name: 'web' })
  t.equal(created.statusCode, 201)
  const key = created.json().data
  t.match(key, { name: 'web', privileges: ['analytics:push'], revokedAt: null, key: /^st_[0-9a-f]{16}_/ })
  const search = () =>
    app.inject({
      method: 'POST',
      url: '/rest/ua/v15/analytics/search',
      headers: { ...bearer(key.key), ...json },
      payload: JSON.stringify({ language: 'en', queryText: 'q', actionCause: 'searchboxSubmit', responseTime: 1, searchQueryUid: '00000000-0000-4000-8000-000000000001' }),
    })
  t.equal((await search()).statusCode, 200, 'the new key logs events')
  const listed = (await call('GET', '/orgs/acme/keys', admin.key)).json().data
  t.ok(listed.some((k: { id: string; key?: string }) => k.id === key.id && k.key === undefined), 'listed, without its secret')
  t.equal((await call('DELETE', `/orgs/acme/keys/${key.id}`, other.key)).statusCode, 403, "another org's admin cannot revoke it")
  t.equal((await call('DELETE', `/orgs/globex/keys/${key.id}`, other.key)).statusCode, 404, 'nor reach it through its own org')
  const revoked = await call('DELETE', `/orgs/acme/keys/${key.id}`, admin.key)
  t.match(revoked.json().data, { id: key.id, revokedAt: /^\d{4}-/ })
  t.equal((await search()).json().type, 'InvalidToken', 'the revoked key is refused by an ingest route at once')

  // Origins and name.
  const patched = await call('PATCH', '/orgs/acme', admin.key, { name: 'Acme Inc', allowedOrigins: ['https://www.acme.example'] })
  t.match(patched.json().data, { name: 'Acme Inc', allowedOrigins: ['https://www.acme.example'] })
  const badOrigin = await call('PATCH', '/orgs/acme', admin.key, { allowedOrigins: ['https://www.acme.example/'] })
  t.match({ status: badOrigin.statusCode, body: badOrigin.json() }, { status: 400, body: { type: 'InvalidValue', message: /is not an origin/ } })

  // Inbenta priorities.
  t.match((await call('PUT', '/orgs/acme/inbenta/priorities/MY_KEY', admin.key, { priority: 5 })).json(), { data: { key: 'MY_KEY', priority: 5 } })
  t.ok((await call('GET', '/orgs/acme/inbenta/priorities', admin.key)).json().data.some((p: { key: string; priority: number }) => p.key === 'MY_KEY' && p.priority === 5))
  t.equal((await call('PUT', '/orgs/acme/inbenta/priorities/lower', admin.key, { priority: 5 })).statusCode, 400)
  t.equal((await call('PUT', '/orgs/acme/inbenta/priorities/MY_KEY', admin.key, { priority: 1001 })).statusCode, 400)
  t.match((await call('DELETE', '/orgs/acme/inbenta/priorities/MY_KEY', admin.key)).json(), { data: { key: 'MY_KEY', deleted: true } })
  t.equal((await call('DELETE', '/orgs/acme/inbenta/priorities/MY_KEY', admin.key)).statusCode, 404, 'nothing left to reset')

  // A command leaves its trace too.
  const cli = await runCli(['keys', 'create', '--org', 'acme', '--privileges', 'analytics:read', '--quiet'], { ...config, DATABASE_URL: databaseUrl }, () => {})
  t.equal(cli, 0)

  const audit = (await call('GET', '/audit', admin.key)).json()
  const actions = audit.data.rows.map((r: { action: string }) => r.action)
  t.same(actions, ['key.create', 'inbenta.priority.reset', 'inbenta.priority.set', 'org.update', 'key.revoke', 'key.create'], 'newest first, each change once (refused ones not)')
  t.match(audit.data.rows[0], { actor: /^cli:/, orgId: 'acme', details: { privileges: ['analytics:read'] } })
  t.match(audit.data.rows.at(-1), { actor: `key:${admin.id}`, orgId: 'acme', target: key.id, details: { name: 'web', privileges: ['analytics:push'] } })
  const everything = JSON.stringify(audit)
  t.notMatch(everything, /st_[0-9a-f]{16}_/, 'no key in the log')
  t.notMatch(everything, key.key.split('_')[2], 'no secret in the log')
  t.same((await call('GET', '/audit', other.key)).json().data.rows, [], "another org's admin sees none of it")

  const page = (await call('GET', '/audit?limit=4', admin.key)).json()
  t.equal(page.data.rows.length, 4)
  const next = (await call('GET', `/audit?limit=4&cursor=${page.meta.nextCursor}`, admin.key)).json()
  t.same(next.data.rows.map((r: { action: string }) => r.action), ['key.revoke', 'key.create'])
  t.equal(next.meta.nextCursor, null)

  const csv = await call('GET', '/audit?format=csv', admin.key)
  t.match(csv.headers['content-type'], /text\/csv/)
  t.equal(csv.body.trim().split('\r\n').length, 7, 'a header and six rows')
  const ndjson = await call('GET', '/audit?format=ndjson', admin.key)
  t.same(ndjson.body.trim().split('\n').map((l) => JSON.parse(l).action), actions)
})

t.test('who may do what', async (t) => {
  const { app } = await buildTestApp(t)
  const orgAdmin = await createKey(app, 'acme', ['admin'])
  const reader = await createKey(app, 'acme', ['analytics:read'])
  const platform = await createKey(app, 'ops', ['admin'], ['*'])
  const partial = await createKey(app, 'ops', ['admin'], ['acme'])
  const call = (method: string, url: string, headers: Record<string, string>, body?: unknown) =>
    app.inject({ method: method as 'GET', url: `/api/v1/admin${url}`, headers: { ...headers, ...(body ? json : {}) }, payload: body ? JSON.stringify(body) : undefined })

  const refusals: Array<[string, string, Record<string, string>, unknown, number, string]> = [
    ['GET', '/orgs', {}, undefined, 401, 'MissingToken'],
    ['GET', '/orgs', { authorization: 'Basic abc' }, undefined, 400, 'InvalidParameter'],
    ['GET', '/orgs', bearer('st_0123456789abcdef_' + 'x'.repeat(43)), undefined, 401, 'InvalidToken'],
    ['GET', '/orgs', bearer('eyJhbGciOiJIUzI1NiJ9.e30.x'), undefined, 401, 'InvalidToken'],
    ['GET', '/orgs', bearer(reader.key), undefined, 403, 'Forbidden'],
    ['GET', '/orgs/ops', bearer(orgAdmin.key), undefined, 403, 'Forbidden'],
    ['POST', '/orgs', bearer(orgAdmin.key), { id: 'new' }, 403, 'Forbidden'],
    ['POST', '/orgs', bearer(partial.key), { id: 'new' }, 403, 'Forbidden'],
    ['POST', '/orgs', bearer(platform.key), { id: 'Not Valid' }, 400, 'InvalidRequest'],
    ['POST', '/orgs', bearer(platform.key), { id: 'acme' }, 409, 'AlreadyExists'],
    ['POST', '/orgs/acme/keys', bearer(orgAdmin.key), { privileges: ['root'] }, 400, 'InvalidValue'],
    ['POST', '/orgs/acme/keys', bearer(orgAdmin.key), { privileges: ['admin'], platformOrgs: ['*'] }, 403, 'Forbidden'],
    ['POST', '/orgs/acme/keys', bearer(orgAdmin.key), { privileges: ['admin'], extra: 1 }, 400, 'InvalidRequest'],
    ['GET', '/orgs/nope/keys', bearer(platform.key), undefined, 404, 'NotFound'],
    ['DELETE', '/orgs/acme/keys/zz', bearer(orgAdmin.key), undefined, 400, 'InvalidRequest'],
    ['GET', '/audit?cursor=abc', bearer(orgAdmin.key), undefined, 400, 'InvalidRequest'],
    ['GET', '/audit?format=xml', bearer(orgAdmin.key), undefined, 400, 'InvalidParameter'],
    ['GET', '/nothing', bearer(orgAdmin.key), undefined, 404, 'NotFound'],
  ]
  for (const [method, url, headers, body, status, type] of refusals) {
    const res = await call(method, url, headers, body)
    t.match({ status: res.statusCode, body: res.json() }, { status, body: { type, message: /\w/ } }, `${method} ${url} → ${status} ${type}`)
  }

  const created = await call('POST', '/orgs', bearer(platform.key), { id: 'newco', name: 'New Co', allowedOrigins: ['https://newco.example'] })
  t.match({ status: created.statusCode, body: created.json() }, { status: 201, body: { data: { id: 'newco', name: 'New Co', allowedOrigins: ['https://newco.example'] } } })
  t.same((await call('GET', '/orgs', bearer(platform.key))).json().data.map((o: { id: string }) => o.id), ['acme', 'newco', 'ops'], 'a platform admin of * sees every org')
  t.same((await call('GET', '/orgs', bearer(partial.key))).json().data.map((o: { id: string }) => o.id), ['acme'], 'a platform admin of some, those')
  t.equal((await call('GET', '/orgs/acme/keys', bearer(partial.key))).statusCode, 200)
  t.equal((await call('GET', '/orgs/newco/keys', bearer(partial.key))).statusCode, 403)
  const rows = (await call('GET', '/audit', bearer(platform.key))).json().data.rows
  t.match(rows, [{ action: 'org.create', orgId: 'newco', actor: `key:${platform.id}`, details: { name: 'New Co' } }], 'the creation is audited; the refusals are not')
})
