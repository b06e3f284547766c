import t from 'tap'
import { createHmac, generateKeyPairSync, createSign } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { buildTestApp, createKey } from '../helpers/app.js'
import { assertOriginAllowed, originAllowed } from '../../src/auth/origins.js'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)

function hs256(payload: object, secret: string | Buffer, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const head = `${b64(header)}.${b64(payload)}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}

t.test('isolation: a credential of org A never acts for org B', async (t) => {
  const { app } = await buildTestApp(t)
  const a = await createKey(app, 'org-a')
  await createKey(app, 'org-b')
  const auth = app.auth

  t.equal((await auth.require(a.key, 'analytics:push')).orgId, 'org-a', 'the key acts for its own org')
  t.equal((await auth.require(a.key, 'analytics:push', 'org-a')).orgId, 'org-a')
  await t.rejects(auth.require(a.key, 'analytics:push', 'org-b'), { name: 'AuthError', code: 'Forbidden' }, 'org parameter naming another org')
  await t.rejects(auth.require(a.key, 'analytics:push', 'no-such-org'), { code: 'Forbidden' })

  const tokenA = await auth.signSearchToken('org-a', { userIds: [{ name: 'alice' }] }, 600)
  t.equal((await auth.require(tokenA, 'analytics:push')).orgId, 'org-a')
  await t.rejects(auth.require(tokenA, 'analytics:push', 'org-b'), { code: 'Forbidden' }, 'a search token of A with org=B')

  // A token that claims org B but is signed with org A's secret: the claim picks B's secret, which fails.
  const orgA = (await app.keys.getOrg('org-a'))!
  const forged = hs256({ organization: 'org-b', exp: now() + 600 }, orgA.jwtSecret)
  await t.rejects(auth.require(forged, 'analytics:push'), { code: 'InvalidToken' }, 'token claim of another org')
  await t.rejects(auth.require(forged, 'analytics:push', 'org-b'), { code: 'InvalidToken' })

  // A key whose privileges do not include pushing cannot push, whatever org it names.
  const reader = await createKey(app, 'org-a', ['analytics:read'])
  await t.rejects(auth.require(reader.key, 'analytics:push', 'org-a'), { code: 'Forbidden' })

  // Platform keys reach only the orgs they list, and must name one.
  const platform = await createKey(app, 'org-a', ['analytics:push'], ['org-a'])
  await t.rejects(auth.require(platform.key, 'analytics:push'), { code: 'OrgRequired' })
  await t.rejects(auth.require(platform.key, 'analytics:push', 'org-b'), { code: 'Forbidden' })
  t.equal((await auth.require(platform.key, 'analytics:push', 'org-a')).orgId, 'org-a')
})

t.test('API key secrets: wrong, truncated, revoked and malformed keys are refused without throwing', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'org-a')
  const secret = key.key.slice('st_'.length + key.id.length + 1)
  const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A')
  await t.rejects(app.auth.require(`st_${key.id}_${flipped}`, 'analytics:push'), { code: 'InvalidToken' }, 'one character off')
  // Hashes of equal length are compared (timingSafeEqual), so a short secret is a mismatch, not a RangeError.
  await t.rejects(app.auth.fromKeySecret(key.id, 'x'), { name: 'AuthError', code: 'InvalidToken' })
  await t.rejects(app.auth.fromKeySecret(key.id, ''), { code: 'InvalidToken' })
  await t.rejects(app.auth.fromKeySecret('0000000000000000', secret), { code: 'InvalidToken' }, 'unknown key id')
  t.equal((await app.auth.fromKeySecret(key.id, secret)).orgId, 'org-a')
  for (const bad of ['st_', 'st_zz_yy', `${key.key}x`, 'Bearer', 'a.b.c', '...', 'eyJ.eyJ.', '\u0000']) {
    await t.rejects(app.auth.require(bad, 'analytics:push'), { name: 'AuthError' }, `malformed ${JSON.stringify(bad)}`)
  }
  await t.rejects(app.auth.require('', 'analytics:push'), { code: 'MissingToken' })
  await app.keys.revokeKey(key.id)
  await t.rejects(app.auth.require(key.key, 'analytics:push'), { code: 'InvalidToken' }, 'revoked')
})

t.test('JWT: alg none, HS/RS confusion, unexpected algorithms and expiry are refused', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('org-a')
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  await app.keys.updateOrg('org-a', { jwtPublicKeys: [publicPem] })
  const org = (await app.keys.getOrg('org-a'))!
  const payload = { organization: 'org-a', exp: now() + 600 }

  const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`
  await t.rejects(app.auth.require(none, 'analytics:push'), { code: 'InvalidToken' }, 'alg none')
  const noneUpper = `${b64({ alg: 'NONE' })}.${b64(payload)}.`
  await t.rejects(app.auth.require(noneUpper, 'analytics:push'), { code: 'InvalidToken' }, 'alg NONE')
  await t.rejects(app.auth.require(`${b64({ typ: 'JWT' })}.${b64(payload)}.`, 'analytics:push'), { code: 'InvalidToken' }, 'no alg')

  // The classic confusion: HS256 "signed" with the org's RSA public key as the HMAC secret.
  await t.rejects(app.auth.require(hs256(payload, publicPem), 'analytics:push'), { code: 'InvalidToken' }, 'HS256 with the public key')
  await t.rejects(app.auth.require(hs256(payload, org.jwtSecret, { alg: 'HS384' }), 'analytics:push'), { code: 'InvalidToken' }, 'HS384')

  const rs256 = (body: object, header: object = { alg: 'RS256', typ: 'JWT' }) => {
    const head = `${b64(header)}.${b64(body)}`
    return `${head}.${createSign('RSA-SHA256').update(head).sign(privateKey).toString('base64url')}`
  }
  t.equal((await app.auth.require(rs256(payload), 'analytics:push')).orgId, 'org-a', 'a real RS256 token passes')
  await t.rejects(app.auth.require(rs256({ ...payload, exp: now() - 10 }), 'analytics:push'), { code: 'InvalidToken', message: /expired/ }, 'expired RS256')
  // RS256 signature bytes presented as PS256 / HS256: refused.
  const [, p, s] = rs256(payload).split('.')
  await t.rejects(app.auth.require(`${b64({ alg: 'HS256' })}.${p}.${s}`, 'analytics:push'), { code: 'InvalidToken' })
  await t.rejects(app.auth.require(`${b64({ alg: 'PS256' })}.${p}.${s}`, 'analytics:push'), { code: 'InvalidToken' })

  t.equal((await app.auth.require(hs256(payload, org.jwtSecret), 'analytics:push')).orgId, 'org-a', 'a real HS256 token passes')
  await t.rejects(app.auth.require(hs256({ ...payload, exp: now() - 1 }, org.jwtSecret), 'analytics:push'), { code: 'InvalidToken', message: /expired/ }, 'expired HS256')
  const tampered = hs256(payload, org.jwtSecret).replace(/\.[^.]+\./, `.${b64({ ...payload, organization: 'org-a', admin: true })}.`)
  await t.rejects(app.auth.require(tampered, 'analytics:push'), { code: 'InvalidToken' }, 'payload changed after signing')
})

t.test('per-org CORS origin lists', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('org-a')
  await app.keys.createOrg('org-b')
  await app.keys.updateOrg('org-a', { allowedOrigins: ['https://shop.example'] })
  const request = (origin?: string) => ({ headers: origin ? { origin } : {}, server: app }) as unknown as FastifyRequest

  await t.resolves(assertOriginAllowed(request('https://shop.example'), 'org-a'), 'a listed origin')
  await t.rejects(assertOriginAllowed(request('https://evil.example'), 'org-a'), { statusCode: 403, code: 'OriginNotAllowed' })
  await t.rejects(assertOriginAllowed(request('https://shop.example.evil.example'), 'org-a'), { statusCode: 403, code: 'OriginNotAllowed' }, 'no prefix match')
  await t.rejects(assertOriginAllowed(request('https://SHOP.example'), 'org-a'), { statusCode: 403, code: 'OriginNotAllowed' }, 'exact match only')
  await t.resolves(assertOriginAllowed(request(), 'org-a'), 'no Origin (server to server) is not a browser request')
  await t.resolves(assertOriginAllowed(request('https://evil.example'), 'org-b'), 'an org without a list allows any origin')
  t.ok(originAllowed({ allowedOrigins: ['*'] }, 'https://any.example'))
  t.notOk(originAllowed({ allowedOrigins: [] }, 'https://any.example'), 'an empty list allows no browser origin')
})
