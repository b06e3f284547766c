import t from 'tap'
import { createSign, generateKeyPairSync } from 'node:crypto'
import { buildTestApp, createKey } from '../helpers/app.js'
import { AuthError } from '../../src/auth/errors.js'
import { parseApiKey } from '../../src/auth/keys.js'

function b64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

t.test('API keys', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme', ['analytics:push', 'impersonate'])
  t.match(key.key, /^st_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)

  const principal = await app.auth.require(key.key, 'analytics:push')
  t.equal(principal.orgId, 'acme')
  t.equal(principal.kind, 'api-key')
  t.ok(principal.privileges.has('impersonate'))

  const { rows } = await app.db.query('SELECT * FROM api_keys')
  const stored = JSON.stringify(rows)
  t.notOk(stored.includes(parseApiKey(key.key)!.secret), 'the secret is not stored in clear anywhere in the row')
  t.equal(rows[0].secret_hash.length, 32, 'a sha256 hash is stored')

  const wrongSecret = key.key.slice(0, -4) + (key.key.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  await t.rejects(app.auth.authenticate(wrongSecret), { code: 'InvalidToken' })
  await t.rejects(app.auth.authenticate('st_0000000000000000_' + 'a'.repeat(43)), { code: 'InvalidToken' })
  await t.rejects(app.auth.authenticate(''), { code: 'MissingToken' })
  await t.rejects(app.auth.authenticate('garbage'), { code: 'InvalidToken' })
  await t.rejects(app.auth.require(key.key, 'admin'), { code: 'Forbidden' })
  await t.rejects(app.auth.authenticate(key.key, 'other-org'), { code: 'Forbidden' }, 'a key of acme cannot name another org')

  await app.keys.revokeKey(key.id)
  await t.rejects(app.auth.authenticate(key.key), { code: 'InvalidToken' }, 'a revoked key is refused')
})

t.test('platform keys name the org they act for', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('a')
  await app.keys.createOrg('b')
  await app.keys.createOrg('c')
  const platform = await createKey(app, 'ops', ['analytics:push'], ['a', 'b'])
  await t.rejects(app.auth.authenticate(platform.key), { code: 'OrgRequired' })
  t.equal((await app.auth.authenticate(platform.key, 'b')).orgId, 'b')
  t.equal((await app.auth.authenticate(platform.key, 'b')).kind, 'platform-key')
  await t.rejects(app.auth.authenticate(platform.key, 'c'), { code: 'Forbidden' })
  const all = await createKey(app, 'ops', ['analytics:push'], ['*'])
  t.equal((await app.auth.authenticate(all.key, 'c')).orgId, 'c')
  await t.rejects(app.auth.authenticate(all.key, 'nope'), { code: 'Forbidden' }, 'an unknown org is refused')
})

t.test('search tokens', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('acme')
  await app.keys.createOrg('evil')
  const token = await app.auth.signSearchToken(
    'acme',
    { userIds: [{ name: 'alice@example.com', provider: 'Email', type: 'User' }], searchHub: 'support', pipeline: 'p1', userDisplayName: 'Alice' },
    60,
  )
  const principal = await app.auth.require(token, 'analytics:push')
  t.match(principal, { orgId: 'acme', kind: 'search-token', userId: 'alice@example.com', searchHub: 'support', pipeline: 'p1', userDisplayName: 'Alice' })
  await t.rejects(app.auth.require(token, 'impersonate'), { code: 'Forbidden' }, 'a search token only logs')

  const [header, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  t.equal(claims.exp - claims.iat, 60, 'the token lives as long as asked')

  // alg none: no signature at all.
  const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`
  await t.rejects(app.auth.authenticate(none), { code: 'InvalidToken' }, 'alg none is refused')
  // A wrong signature, and a token re-pointed at another org with the original signature.
  await t.rejects(app.auth.authenticate(`${header}.${payload}.${signature.slice(0, -2)}xx`), { code: 'InvalidToken' })
  const moved = `${header}.${b64url({ ...claims, organization: 'evil' })}.${signature}`
  await t.rejects(app.auth.authenticate(moved), { code: 'InvalidToken' }, 'a token cannot be moved to another org')
  // Unexpected algorithm.
  const hs512 = `${b64url({ alg: 'HS512', typ: 'JWT' })}.${payload}.${signature}`
  await t.rejects(app.auth.authenticate(hs512), { code: 'InvalidToken' })
  // Expired.
  const expired = app.jwt.sign({ ...claims, iat: 1, exp: 2 }, { key: (await app.keys.getOrg('acme'))!.jwtSecret, algorithm: 'HS256' })
  await t.rejects(app.auth.authenticate(expired), new AuthError('InvalidToken', 'The access token has expired'))
})

t.test('RS256 tokens from the org backend; no RS/HS confusion', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('acme')
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  await app.keys.updateOrg('acme', { jwtPublicKeys: [pem] })
  const payload = b64url({ organization: 'acme', userIds: [{ name: 'bob' }], exp: Math.floor(Date.now() / 1000) + 60 })
  const header = b64url({ alg: 'RS256', typ: 'JWT' })
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(privateKey).toString('base64url')
  t.equal((await app.auth.authenticate(`${header}.${payload}.${signature}`)).userId, 'bob')

  // Classic confusion: an HS256 token whose HMAC key is the public key PEM.
  const confused = app.jwt.sign({ organization: 'acme', userIds: [{ name: 'mallory' }] }, { key: pem, algorithm: 'HS256' })
  await t.rejects(app.auth.authenticate(confused), { code: 'InvalidToken' })
})
