import t from 'tap'
import { buildAppWithTestRoute, tempDir } from '../reliability/helpers.js'
import { createTestDatabase } from '../helpers/db.js'
import { createKey, manualClock } from '../helpers/app.js'
import { halves } from '../inbenta/helpers.js'
import { CLICK, SEARCH } from '../coveo/helpers.js'
import type { FastifyInstance, InjectOptions } from 'fastify'

// Revoke a key, then use every credential derived from it, on the instance that revoked it (at
// once) and on another instance (once its key cache, 5 s, has aged): all refused.

const json = { 'content-type': 'application/json' }

/** Every way of using `key` (and what it was exchanged for), each returning the status code. */
async function usesOf(app: FastifyInstance, key: { key: string }, platformKey: { key: string }) {
  const { keyId, secret } = halves(key as never)
  const minted = await app.inject({ method: 'POST', url: '/rest/search/v2/token', headers: { ...json, authorization: `Bearer ${key.key}` }, payload: { userIds: [{ name: 'alice@acme.com' }] } })
  const searchToken = minted.json().token as string
  const auth = await app.inject({ method: 'POST', url: '/v1/auth', headers: { ...json, 'x-inbenta-key': keyId }, payload: { secret } })
  const accessToken = auth.json().accessToken as string
  const session = await app.inject({ method: 'POST', url: '/v1/tracking/session', headers: { 'x-inbenta-key': keyId, authorization: `Bearer ${accessToken}` } })
  const sessionToken = session.json().sessionToken as string
  const click = { type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' }
  const inject = async (options: InjectOptions) => (await app.inject(options)).statusCode
  return {
    'coveo: key as Bearer': () => inject({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { ...json, authorization: `Bearer ${key.key}` }, payload: SEARCH }),
    'coveo: key in access_token': () => inject({
      method: 'POST', url: `/rest/ua/v15/analytics/click?access_token=${key.key}&discardVisitInfo=true`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `clickEvent=${encodeURIComponent(JSON.stringify(CLICK))}`,
    }),
    'coveo: key in a form field': () => inject({
      method: 'POST', url: '/rest/ua/v15/analytics/collect', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${key.key}&collectEvent=${encodeURIComponent(JSON.stringify({ t: 'pageview' }))}`,
    }),
    'coveo: search token minted by the key': () => inject({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { ...json, authorization: `Bearer ${searchToken}` }, payload: SEARCH }),
    'coveo: platform key': () => inject({ method: 'POST', url: '/rest/ua/v15/analytics/search?org=acme', headers: { ...json, authorization: `Bearer ${platformKey.key}` }, payload: SEARCH }),
    'workplace: Basic id:secret': () => inject({ method: 'POST', url: '/api/ws/v1/analytics/event', headers: { ...json, authorization: `Basic ${Buffer.from(`${keyId}:${secret}`).toString('base64')}` }, payload: click }),
    'workplace: Basic with the whole key': () => inject({ method: 'POST', url: '/api/ws/v1/analytics/event', headers: { ...json, authorization: `Basic ${Buffer.from(`x:${key.key}`).toString('base64')}` }, payload: click }),
    'workplace: search token minted by the key': () => inject({ method: 'POST', url: '/api/ws/v1/analytics/event', headers: { ...json, authorization: `Bearer ${searchToken}` }, payload: click }),
    'inbenta: access token': () => inject({
      method: 'POST', url: '/v1/tracking/events', headers: { ...json, 'x-inbenta-key': keyId, authorization: `Bearer ${accessToken}`, 'x-inbenta-session': sessionToken },
      payload: { type: 'CONTACT_TICKET', data: {} },
    }),
    'inbenta: refresh of the access token': () => inject({ method: 'POST', url: '/v1/refreshToken', headers: { 'x-inbenta-key': keyId, authorization: `Bearer ${accessToken}` } }),
    'inbenta: new access token': () => inject({ method: 'POST', url: '/v1/auth', headers: { ...json, 'x-inbenta-key': keyId }, payload: { secret } }),
    'inbenta: report with the key': () => inject({ method: 'GET', url: '/v1/reports/data-keys', headers: { authorization: `Bearer ${key.key}` } }),
  }
}

t.test('every credential derived from a revoked key stops working: at once here, within the cache lifetime elsewhere', async (t) => {
  const url = await createTestDatabase(t)
  const clock = manualClock(new Date())
  const env = { RATE_LIMIT_PER_MINUTE: '0', AUTH_FAILURES_PER_MINUTE: '0' }
  const a = await buildAppWithTestRoute(t, url, { ...env, DATA_DIR: await tempDir(t, 'searchtrack-revoke-a-') }, { clock })
  const b = await buildAppWithTestRoute(t, url, { ...env, DATA_DIR: await tempDir(t, 'searchtrack-revoke-b-') }, { clock })
  const key = await createKey(a.app, 'acme', ['analytics:push', 'analytics:read', 'impersonate'])
  const platformKey = await createKey(a.app, 'acme', ['analytics:push'], ['*'])
  const onA = await usesOf(a.app, key, platformKey)
  const onB = await usesOf(b.app, key, platformKey)
  for (const [name, use] of Object.entries(onA)) t.equal(await use(), 200, `before: ${name} (instance A)`)
  for (const [name, use] of Object.entries(onB)) t.equal(await use(), 200, `before: ${name} (instance B)`)

  await b.app.keys.revokeKey(key.id)
  await b.app.keys.revokeKey(platformKey.id)
  for (const [name, use] of Object.entries(onB)) t.not(await use(), 200, `revoked on B, used on B at once: ${name}`)

  // A's cache entries are at most 5 s old by now; once they are older, A asks the database.
  clock.advance(5_001)
  for (const [name, use] of Object.entries(onA)) {
    const status = await use()
    t.ok(status >= 400 && status < 500, `revoked on B, used on A after 5 s: ${name} → ${status}`)
  }
})
