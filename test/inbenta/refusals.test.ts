import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey, manualClock } from '../helpers/app.js'
import { loadConfig } from '../../src/config.js'
import { runCli } from '../../src/cli.js'
import { AuthError } from '../../src/auth/errors.js'
import { deriveKey } from '../../src/protocols/inbenta/codes.js'
import { halves, inject, type Reply } from './helpers.js'

/** An authenticated caller of one org, with an open session and one logged search. */
async function caller(app: FastifyInstance, orgId: string) {
  const key = await createKey(app, orgId, ['analytics:push', 'analytics:read'])
  const { keyId, secret } = halves(key)
  const auth = await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': keyId }, body: { secret } })
  const headers: Record<string, string> = { 'x-inbenta-key': keyId, authorization: `Bearer ${auth.body.accessToken}` }
  const session = await inject(app, 'POST', '/v1/tracking/session', { headers })
  const withSession = { ...headers, 'x-inbenta-session': session.body.sessionToken as string }
  const search = await inject(app, 'POST', '/v1/tracking/search', {
    headers: withSession,
    body: { query: 'q', results: [{ id: 1 }], instance: 'instance_b' },
  })
  return { key, keyId, secret, headers, withSession, session: session.body, search: search.body, accessToken: auth.body.accessToken as string }
}

function isError(t: Test, reply: Reply, status: number, message?: RegExp): void {
  t.equal(reply.status, status, `status ${status}`)
  t.equal(reply.body.error?.code, status, 'error shape {"error": {"code", "message"}}')
  t.type(reply.body.error?.message, 'string')
  if (message) t.match(reply.body.error.message, message)
}

t.test('tracking codes: forged, corrupted, of another kind or another org are refused with 422', async (t) => {
  const { app } = await buildTestApp(t)
  const acme = await caller(app, 'acme')
  const other = await caller(app, 'other')
  const clickCode: string = acme.search.results[0].tracking.clickCode
  const track = (type: string, data: Record<string, unknown>) => inject(app, 'POST', '/v1/tracking/events', { headers: acme.withSession, body: { type, data } })

  t.equal((await track('click', { code: clickCode })).status, 200, 'the genuine code is accepted')

  // Forged: a different document in the payload, the old MAC kept.
  const [body, mac] = clickCode.split('.') as [string, string]
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString())
  const forged = `${Buffer.from(JSON.stringify({ ...payload, d: 999, p: 1 })).toString('base64url')}.${mac}`
  isError(t, await track('click', { code: forged }), 422, /clickCode/)
  isError(t, await track('click', { code: clickCode.slice(0, -2) + (clickCode.endsWith('AA') ? 'BB' : 'AA') }), 422)
  isError(t, await track('click', { code: 'not-a-code' }), 422)
  isError(t, await track('click', { code: acme.search.results[0].tracking.rateCode }), 422, /clickCode/)
  isError(t, await track('click', { code: other.search.results[0].tracking.clickCode }), 422, /another instance/)
  isError(t, await track('rate', { code: other.search.results[0].tracking.rateCode, value: 1 }), 422)
  isError(t, await track('external_click', { searchCode: acme.search.tracking.searchCode, externalCode: other.search.results[0].tracking.externalCode }), 422)
  isError(t, await track('click', {}), 400, /data\.code/)
  isError(t, await track('rate', { code: acme.search.results[0].tracking.rateCode }), 400, /data\.value/)

  const { rows } = await app.db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'click'`)
  t.equal(rows[0].n, 1, 'nothing refused was stored')

  const searchRate = await track('search_rate', { code: acme.search.tracking.searchCode, value: 'useful' })
  t.same(searchRate.body.logs, ['atomic', 'session'], 'search_rate echoes the searchCode')
  isError(t, await track('search_rate', { code: clickCode, value: 1 }), 422, /searchCode/)

  const external = await track('external_click', { searchCode: acme.search.tracking.searchCode, externalCode: acme.search.results[0].tracking.externalCode })
  t.equal(external.status, 200)
  const { rows: ext } = await app.db.query(`SELECT extra->>'logType' AS log_type, extra->>'dataKey' AS data_key FROM events WHERE action_cause = 'external_click'`)
  t.same(ext, [{ log_type: 'INSTANCE_B', data_key: 'CLICK_MATCH' }], 'an external click is logged under the instance name in upper case')
})

t.test('sessions: missing header, unknown or expired token', async (t) => {
  const { app } = await buildTestApp(t)
  const acme = await caller(app, 'acme')
  const other = await caller(app, 'other')

  isError(t, await inject(app, 'POST', '/v1/tracking/events', { headers: acme.headers, body: { type: 'CONTACT_TICKET', data: {} } }), 400, /x-inbenta-session/)
  isError(t, await inject(app, 'POST', '/v1/tracking/session/user', { headers: acme.headers, body: { data: { a: 1 } } }), 400, /x-inbenta-session/)

  // An atomic action needs no session: it goes to the atomic log only.
  const atomic = await inject(app, 'POST', '/v1/tracking/events', { headers: acme.headers, body: { type: 'click', data: { code: acme.search.results[0].tracking.clickCode } } })
  t.same(atomic.body, { logs: ['atomic'], sessionId: null })

  for (const token of ['garbage', acme.search.tracking.searchCode, other.session.sessionToken]) {
    const reply = await inject(app, 'POST', '/v1/tracking/events', {
      headers: { ...acme.headers, 'x-inbenta-session': token },
      body: { type: 'CONTACT_TICKET', data: {} },
    })
    isError(t, reply, 400, /Session expired/)
  }
})

t.test('a session token is refused a day after it was issued', async (t) => {
  let now = new Date('2026-06-15T10:00:00Z').getTime()
  const { app } = await buildTestApp(t, { clock: () => new Date(now) })
  const acme = await caller(app, 'acme')
  now += 23 * 3600_000
  t.equal((await inject(app, 'POST', '/v1/tracking/events', { headers: acme.withSession, body: { type: 'CONTACT_START' } })).status, 200)
  now += 2 * 3600_000
  isError(t, await inject(app, 'POST', '/v1/tracking/events', { headers: acme.withSession, body: { type: 'CONTACT_START' } }), 400, /Session expired/)
})

t.test('credentials: missing 401, wrong 403, tokens that cannot be confused with search tokens', async (t) => {
  const { app } = await buildTestApp(t)
  const acme = await caller(app, 'acme')
  const pushOnly = halves(await createKey(app, 'acme', ['analytics:push']))

  isError(t, await inject(app, 'POST', '/v1/auth', { body: { secret: acme.secret } }), 401, /x-inbenta-key/)
  isError(t, await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': acme.keyId }, body: { secret: 'x'.repeat(43) } }), 403)
  isError(t, await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': '0123456789abcdef' }, body: { secret: acme.secret } }), 403)
  isError(t, await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': acme.keyId }, body: {} }), 400)
  isError(t, await inject(app, 'POST', '/v1/tracking/session', { headers: { 'x-inbenta-key': acme.keyId } }), 401)
  isError(t, await inject(app, 'POST', '/v1/tracking/session', { headers: { authorization: acme.headers.authorization! } }), 401)
  isError(t, await inject(app, 'POST', '/v1/tracking/session', { headers: { ...acme.headers, 'x-inbenta-key': pushOnly.keyId } }), 403, /not issued to this/)
  isError(t, await inject(app, 'POST', '/v1/tracking/session', { headers: { ...acme.headers, authorization: 'Bearer abc.def.ghi' } }), 403)

  // An access token is no Coveo search token, and a search token is no access token.
  await t.rejects(app.auth.authenticate(acme.accessToken), AuthError, 'the generic authenticator refuses an Inbenta access token')
  const searchToken = await app.auth.signSearchToken('acme', { userIds: [{ name: 'ada' }] }, 600)
  isError(t, await inject(app, 'POST', '/v1/tracking/session', { headers: { ...acme.headers, authorization: `Bearer ${searchToken}` } }), 403)

  // Reports need analytics:read, through an access token or an API key.
  const pushAuth = await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': pushOnly.keyId }, body: { secret: pushOnly.secret } })
  const sessionUrl = `/v1/reports/sessions/${acme.session.sessionId}`
  isError(t, await inject(app, 'GET', sessionUrl, { headers: { 'x-inbenta-key': pushOnly.keyId, authorization: `Bearer ${pushAuth.body.accessToken}` } }), 403, /analytics:read/)
  t.equal((await inject(app, 'GET', sessionUrl, { headers: { authorization: `Bearer ${acme.key.key}` } })).status, 200, 'an API key with analytics:read reads')
  isError(t, await inject(app, 'GET', '/v1/reports/sessions/0190d6a3-0000-7000-8000-000000000000', { headers: acme.headers }), 404)
  isError(t, await inject(app, 'GET', '/v1/reports/sessions/not-a-uuid', { headers: acme.headers }), 404)

  // An expired access token (signed here with the same derived key, issued an hour ago).
  const org = await app.keys.getOrg('acme')
  const expired = app.jwt.sign(
    { typ: 'inbenta-access', aud: 'searchtrack:inbenta', org: 'acme', kid: acme.keyId, privileges: ['analytics:push'], iat: Math.floor(Date.now() / 1000) - 3600 },
    { key: deriveKey(org!.jwtSecret, 'access-token').toString('base64url'), algorithm: 'HS256', expiresIn: 1200 },
  )
  isError(t, await inject(app, 'POST', '/v1/tracking/session', { headers: { ...acme.headers, authorization: `Bearer ${expired}` } }), 403, /expired/)

  // Browsers from origins the org does not allow get no token.
  await app.keys.updateOrg('acme', { allowedOrigins: ['https://help.acme.example'] })
  isError(t, await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': acme.keyId, origin: 'https://evil.example' }, body: { secret: acme.secret } }), 403, /Origin/)
  t.equal((await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': acme.keyId, origin: 'https://help.acme.example' }, body: { secret: acme.secret } })).status, 200)

  // Refresh gives a working token, and stops with the key.
  const refreshed = await inject(app, 'POST', '/v1/refreshToken', { headers: acme.headers })
  t.equal(refreshed.status, 200)
  t.equal((await inject(app, 'POST', '/v1/tracking/session', { headers: { ...acme.headers, authorization: `Bearer ${refreshed.body.accessToken}` } })).status, 200)
  isError(t, await inject(app, 'POST', '/v1/refreshToken', { headers: { 'x-inbenta-key': acme.keyId } }), 401)
  await app.keys.revokeKey(acme.keyId)
  isError(t, await inject(app, 'POST', '/v1/refreshToken', { headers: acme.headers }), 403, /revoked/)
})

t.test('bad bodies, unknown types and paths', async (t) => {
  const { app } = await buildTestApp(t)
  const acme = await caller(app, 'acme')
  const events = (body: unknown) => inject(app, 'POST', '/v1/tracking/events', { headers: acme.withSession, body })
  isError(t, await events({ type: 'teleport', data: {} }), 400, /Unknown event type/)
  isError(t, await events({ type: 'MY_CUSTOM_KEY', data: {} }), 400, /Unknown event type/)
  isError(t, await events({ data: {} }), 400)
  isError(t, await events({ type: 'click', data: 'x' }), 400)
  const badJson = await app.inject({ method: 'POST', url: '/v1/tracking/events', headers: { ...acme.withSession, 'content-type': 'application/json' }, payload: '{"type":' })
  isError(t, { status: badJson.statusCode, body: badJson.json() }, 400)
  isError(t, await inject(app, 'POST', '/v1/tracking/search', { headers: acme.withSession, body: { query: 'q', results: [{}] } }), 400)
  isError(t, await inject(app, 'GET', '/v1/nowhere'), 404, /No route/)
  isError(t, await inject(app, 'GET', '/v1/reports/results?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', { headers: acme.headers }), 400)

  const rejected = await app.metrics.eventsRejected.get()
  t.ok(rejected.values.some((v) => v.labels.protocol === 'inbenta' && v.labels.reason === '400' && v.value >= 6), 'refusals are counted')
})

t.test('the credential exchange is rate limited', async (t) => {
  const { app } = await buildTestApp(t)
  const acme = await caller(app, 'acme')
  let last: Reply | undefined
  for (let i = 0; i < 61; i++) {
    last = await inject(app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': acme.keyId }, body: { secret: 'x'.repeat(43) } })
  }
  isError(t, last!, 429, /Too many requests/)
})

t.test('custom data keys and priorities through the CLI', async (t) => {
  const clock = manualClock()
  const { app, databaseUrl } = await buildTestApp(t, { clock })
  const acme = await caller(app, 'acme')
  clock.advance(1000)
  const events = (body: unknown) => inject(app, 'POST', '/v1/tracking/events', { headers: acme.withSession, body })
  isError(t, await events({ type: 'MY_CUSTOM_KEY', data: { step: 2 } }), 400, /Unknown event type/)

  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', BOOTSTRAP_DEFAULT_ORG: 'false' })
  const lines: string[] = []
  const out = (line: string) => lines.push(line)
  t.equal(await runCli(['inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'MY_CUSTOM_KEY', '--priority', '2'], config, out), 0)
  t.equal(await runCli(['inbenta', 'priorities', 'list', '--org', 'acme'], config, out), 0)
  t.ok(lines.includes('MY_CUSTOM_KEY\t2\tcustom'), 'the list shows the custom key')
  t.ok(lines.includes('CONTACT_TICKET\t1\tdefault'), 'and the defaults')
  await t.rejects(runCli(['inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'lower', '--priority', '2'], config, out), /upper-case/)
  await t.rejects(runCli(['inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'K', '--priority', '-1'], config, out), /--priority/)
  await t.rejects(runCli(['inbenta', 'priorities', 'list', '--org', 'nobody'], config, out), /no organization/)

  const custom = await events({ type: 'MY_CUSTOM_KEY', data: { step: 2 } })
  t.same(custom.body.logs, ['session'])
  const report = await inject(app, 'GET', `/v1/reports/sessions/${acme.session.sessionId}`, { headers: acme.headers })
  t.same(report.body.actions.map((a: { dataKey: string }) => a.dataKey), ['START', 'SEARCH', 'MY_CUSTOM_KEY'])
  t.same(report.body.result, { ...report.body.result, dataKey: 'MY_CUSTOM_KEY', priority: 2 }, 'the custom key outranks the search')

  const keys = await inject(app, 'GET', '/v1/reports/data-keys', { headers: acme.headers })
  t.match(keys.body.dataKeys[0], { dataKey: 'CONTACT_TICKET', priority: 1, source: 'default' })
  t.ok(keys.body.dataKeys.some((k: { dataKey: string }) => k.dataKey === 'MY_CUSTOM_KEY'))

  // Changing a default re-reads history: the search now outranks the custom key.
  await runCli(['inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'SEARCH', '--priority', '1'], config, out)
  const again = await inject(app, 'GET', `/v1/reports/sessions/${acme.session.sessionId}`, { headers: acme.headers })
  t.equal(again.body.result.dataKey, 'SEARCH')
})
