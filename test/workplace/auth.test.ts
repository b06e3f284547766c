import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'

const URL = '/api/ws/v1/analytics/event'
const click = { type: 'click', query_id: 'q', page: 1, content_source_id: 'c', document_id: 'd', rank: 0, event: 'api' }
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

t.test('credentials that are missing or not accepted get a JSON 401 and store nothing', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  const revoked = await createKey(app, 'acme')
  await app.keys.revokeKey(revoked.id)
  const readOnly = await createKey(app, 'acme', ['analytics:read'])
  const otherOrg = await createKey(app, 'globex')
  const platform = await createKey(app, 'ops', ['analytics:push'], ['*'])
  const org = (await app.keys.getOrg('acme'))!
  const expired = app.jwt.sign(
    { organization: 'acme', userIds: [{ name: 'alice' }], exp: Math.floor(Date.now() / 1000) - 60 },
    { key: org.jwtSecret, algorithm: 'HS256' },
  )
  const forged = app.jwt.sign({ organization: 'acme' }, { key: 'not-the-org-secret', algorithm: 'HS256' })
  const unknownKey = `st_${'0'.repeat(16)}_${'A'.repeat(43)}`

  const cases: Array<[string, Record<string, string>, string, string[]]> = [
    ['no Authorization header', {}, '', ['No Authorization header was provided']],
    ['empty Bearer', { authorization: 'Bearer ' }, '', ['No access token was provided']],
    ['garbage Bearer', { authorization: 'Bearer nonsense' }, '', ['The access token is not valid']],
    ['unknown key', { authorization: `Bearer ${unknownKey}` }, '', ['The access token is not valid']],
    ['wrong secret', { authorization: `Bearer ${key.key.slice(0, -1)}${key.key.endsWith('A') ? 'B' : 'A'}` }, '', ['The access token is not valid']],
    ['revoked key', { authorization: `Bearer ${revoked.key}` }, '', ['The access token is not valid']],
    ['key without analytics:push', { authorization: `Bearer ${readOnly.key}` }, '', ['This token lacks the analytics:push privilege']],
    ['key of another org than the one named', { authorization: `Bearer ${otherOrg.key}` }, '?org=acme', ['This token does not give access to organization acme']],
    ['platform key without org', { authorization: `Bearer ${platform.key}` }, '', ['This platform token reaches several organizations: name one with the org parameter']],
    ['expired search token', { authorization: `Bearer ${expired}` }, '', ['The access token has expired']],
    ['search token signed with another secret', { authorization: `Bearer ${forged}` }, '', ['The access token is not valid']],
    ['unsupported scheme', { authorization: 'Digest username="x"' }, '', ['The Authorization header must use the Bearer or Basic scheme']],
    ['Basic without a colon', { authorization: `Basic ${Buffer.from('justone').toString('base64')}` }, '', ['Basic credentials must be username:password']],
    ['Basic key id with a wrong secret', { authorization: basic(key.id, 'A'.repeat(43)) }, '', ['The key or secret is not valid']],
    ['Basic key id of a revoked key', { authorization: basic(revoked.id, revoked.key.slice(20)) }, '', ['The key or secret is not valid']],
    ['Basic key id without analytics:push', { authorization: basic(readOnly.id, readOnly.key.slice(20)) }, '', ['This key lacks the analytics:push privilege']],
    ['Basic key id of another org than the one named', { authorization: basic(otherOrg.id, otherOrg.key.slice(20)) }, '?org=acme', ['This key does not give access to organization acme']],
    ['Basic with a revoked key as password', { authorization: basic('anyone', revoked.key) }, '', ['The access token is not valid']],
  ]
  for (const [name, headers, query, errors] of cases) {
    const res = await app.inject({ method: 'POST', url: URL + query, headers, payload: click })
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="searchtrack"')
    t.same(res.json(), { errors }, `${name}: ${errors[0]}`)
  }
  const unauthenticatedBadBody = await app.inject({
    method: 'POST', url: URL, headers: { 'content-type': 'application/json' }, payload: '{broken',
  })
  t.equal(unauthenticatedBadBody.statusCode, 401, 'credentials are checked before the body is read')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0, 'nothing was stored')
})

t.test('Bearer and Basic credentials that are accepted', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  const platform = await createKey(app, 'ops', ['analytics:push'], ['*'])
  const secret = key.key.slice(`st_${key.id}_`.length)
  const token = await app.auth.signSearchToken(
    'acme', { userIds: [{ name: 'alice@example.com' }], userDisplayName: 'Alice', searchHub: 'intranet', pipeline: 'p1' }, 3600,
  )
  const cases: Array<[string, string, string]> = [
    ['Bearer API key', `Bearer ${key.key}`, ''],
    ['Basic key id + secret', basic(key.id, secret), ''],
    ['Basic any user + whole key as password', basic('searchtrack', key.key), ''],
    ['Basic empty user + whole key as password', basic('', key.key), ''],
    ['Bearer search token', `Bearer ${token}`, ''],
    ['platform key naming the org', `Bearer ${platform.key}`, '?org=acme'],
    ['key naming its own org', `Bearer ${key.key}`, '?org=acme'],
  ]
  for (const [name, authorization, query] of cases) {
    const res = await app.inject({ method: 'POST', url: URL + query, headers: { authorization }, payload: { ...click, document_id: name } })
    t.equal(res.statusCode, 200, name)
    t.same(res.json(), {}, name)
  }
  const { rows } = await app.db.query(
    `SELECT org_id, document_id, visitor_id, visit_id, username, user_display_name, anonymous, origin_level1, query_pipeline
       FROM events ORDER BY document_id`,
  )
  t.same(rows.map((r) => [r.document_id, r.org_id]), cases.map(([name]) => [name, 'acme']).sort(), 'every event in the key\'s org')
  const userEvent = rows.find((r) => r.document_id === 'Bearer search token')
  t.match(userEvent, {
    visitor_id: 'alice@example.com', username: 'alice@example.com', user_display_name: 'Alice', anonymous: false,
    origin_level1: 'intranet', query_pipeline: 'p1',
  }, 'a search token\'s user is the visitor')
  t.ok(userEvent.visit_id, 'and gets a visit')
  const keyEvent = rows.find((r) => r.document_id === 'Bearer API key')
  t.match(keyEvent, { visitor_id: null, visit_id: null, username: null, anonymous: true }, 'an API key names no visitor')
})
