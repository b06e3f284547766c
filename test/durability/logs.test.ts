import t from 'tap'
import type { InjectOptions } from 'fastify'
import { buildAppWithTestRoute, captureLogs } from '../reliability/helpers.js'
import { createTestDatabase } from '../helpers/db.js'
import { createKey } from '../helpers/app.js'
import { halves } from '../inbenta/helpers.js'
import { CLICK, SEARCH } from '../coveo/helpers.js'

// Every credential a client can send, in every place it can send it, used (and misused) at the
// most verbose log level: none of them appears in any log line, and client addresses appear
// masked, as the events table stores them.
t.test('no credential and no full client address in any log line', async (t) => {
  const logs = captureLogs()
  const { app } = await buildAppWithTestRoute(t, await createTestDatabase(t), { LOG_LEVEL: 'trace' }, { logs })
  const key = await createKey(app, 'acme', ['analytics:push', 'analytics:read', 'impersonate'])
  const { keyId, secret } = halves(key)
  const remoteAddress = '203.0.113.77'
  const json = { 'content-type': 'application/json' }
  const send = (options: InjectOptions) => app.inject({ remoteAddress, ...options })
  const credentials: string[] = [key.key, secret]

  // Coveo: the key in the header, in the query (beacons), in a form field; a minted search token.
  t.equal((await send({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { ...json, authorization: `Bearer ${key.key}` }, payload: SEARCH })).statusCode, 200)
  t.equal((await send({
    method: 'POST', url: `/rest/ua/v15/analytics/click?access_token=${key.key}&visitorId=v1&discardVisitInfo=true`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `clickEvent=${encodeURIComponent(JSON.stringify(CLICK))}`,
  })).statusCode, 200)
  t.equal((await send({
    method: 'POST', url: '/rest/ua/v15/analytics/collect', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `access_token=${key.key}&collectEvent=${encodeURIComponent(JSON.stringify({ t: 'pageview', cid: 'c1' }))}`,
  })).statusCode, 200)
  const minted = await send({ method: 'POST', url: '/rest/search/v2/token', headers: { ...json, authorization: `Bearer ${key.key}` }, payload: { userIds: [{ name: 'alice@acme.com' }] } })
  const searchToken = minted.json().token as string
  credentials.push(searchToken)
  t.equal((await send({ method: 'POST', url: `/rest/ua/v15/analytics/search?access_token=${searchToken}`, headers: json, payload: SEARCH })).statusCode, 200)

  // Workplace: Basic with the two halves, Basic with the whole key, Bearer.
  const click = { type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' }
  for (const authorization of [`Basic ${Buffer.from(`${keyId}:${secret}`).toString('base64')}`, `Basic ${Buffer.from(`any:${key.key}`).toString('base64')}`, `Bearer ${key.key}`]) {
    credentials.push(authorization.split(' ')[1]!)
    t.equal((await send({ method: 'POST', url: '/api/ws/v1/analytics/event', headers: { ...json, authorization }, payload: click })).statusCode, 200)
  }

  // Inbenta: the secret in /auth's body, the access token, a refresh, a session token.
  const auth = await send({ method: 'POST', url: '/v1/auth', headers: { ...json, 'x-inbenta-key': keyId }, payload: { secret } })
  const accessToken = auth.json().accessToken as string
  const refreshed = await send({ method: 'POST', url: '/v1/refreshToken', headers: { 'x-inbenta-key': keyId, authorization: `Bearer ${accessToken}` } })
  const session = await send({ method: 'POST', url: '/v1/tracking/session', headers: { 'x-inbenta-key': keyId, authorization: `Bearer ${accessToken}` } })
  const sessionToken = session.json().sessionToken as string
  credentials.push(accessToken, refreshed.json().accessToken, sessionToken)
  t.equal((await send({
    method: 'POST', url: '/v1/tracking/events', headers: { ...json, 'x-inbenta-key': keyId, authorization: `Bearer ${accessToken}`, 'x-inbenta-session': sessionToken },
    payload: { type: 'CONTACT_TICKET', data: {} },
  })).statusCode, 200)
  t.equal((await send({ method: 'GET', url: '/v1/reports/data-keys', headers: { authorization: `Bearer ${key.key}` } })).statusCode, 200)

  // Misuse: a wrong secret with a real key id, a forged token, garbage: refused, still not logged.
  const wrongSecret = 'W'.repeat(43)
  const forged = `${searchToken.slice(0, -4)}AAAA`
  credentials.push(wrongSecret, forged)
  t.equal((await send({ method: 'POST', url: '/v1/auth', headers: { ...json, 'x-inbenta-key': keyId }, payload: { secret: wrongSecret } })).statusCode, 403)
  t.equal((await send({ method: 'POST', url: `/rest/ua/v15/analytics/search?access_token=${forged}`, headers: json, payload: SEARCH })).statusCode, 400)
  t.equal((await send({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { ...json, authorization: `Bearer st_${keyId}_${wrongSecret}` }, payload: SEARCH })).statusCode, 400)

  const text = logs.text()
  t.ok(logs.lines.length >= 15, `${logs.lines.length} log lines written`)
  t.ok(logs.lines.some((l) => (l.req as { url?: string } | undefined)?.url?.includes('access_token=[redacted]')), 'URLs are logged, their credentials replaced')
  for (const credential of credentials) t.notOk(text.includes(credential), `not logged: ${credential.slice(0, 12)}…`)
  t.notOk(text.includes(remoteAddress), 'the client address is never logged whole')
  t.ok(text.includes('203.0.113.0'), 'but masked, as stored')
})
