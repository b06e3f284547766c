import t from 'tap'
import pg from 'pg'
import { newEvent } from '../../src/events/event.js'
import { applyIdentity, IdentityControls } from '../../src/privacy/identity.js'
import { DEFAULT_SETTINGS } from '../../src/privacy/settings.js'
import type { KeyStore } from '../../src/auth/keys.js'
import { freePort } from '../../scripts/throwaway-postgres.mjs'

const event = () =>
  newEvent({ orgId: 'acme', protocol: 'workplace', type: 'click', visitorId: 'ann@example.org', username: 'ann@example.org', userDisplayName: 'Ann', clientIp: '198.51.100.23' })

t.test('the policies, one event at a time', async (t) => {
  const key = Buffer.alloc(32, 7)
  const masked = event()
  applyIdentity(masked, DEFAULT_SETTINGS, null)
  t.match(masked, { username: 'ann@example.org', visitorId: 'ann@example.org', clientIp: '198.51.100.0' }, 'defaults: user kept, address masked')

  const hashed = event()
  applyIdentity(hashed, { ...DEFAULT_SETTINGS, ipPolicy: 'hash', userPolicy: 'hash' }, key)
  t.match(hashed, { username: /^h:[0-9a-f]{32}$/, userDisplayName: null, clientIp: /^h:[0-9a-f]{32}$/ })
  t.equal(hashed.visitorId, hashed.username, 'the user as visitor gets the same digest')
  const again = event()
  applyIdentity(again, { ...DEFAULT_SETTINGS, ipPolicy: 'hash', userPolicy: 'hash' }, key)
  t.equal(again.username, hashed.username, 'stable')
  const otherKey = event()
  applyIdentity(otherKey, { ...DEFAULT_SETTINGS, userPolicy: 'hash' }, Buffer.alloc(32, 8))
  t.not(otherKey.username, hashed.username, 'keyed: another org gets another digest')

  const noKey = event()
  applyIdentity(noKey, { ...DEFAULT_SETTINGS, ipPolicy: 'hash', userPolicy: 'hash' }, null)
  t.match(noKey, { username: null, visitorId: null, clientIp: null }, 'no key to digest with: dropped, never kept')

  const anonymous = event()
  applyIdentity(anonymous, { ...DEFAULT_SETTINGS, anonymous: true }, null)
  t.match(anonymous, { username: null, userDisplayName: null, visitorId: null, anonymous: true, clientIp: '198.51.100.0' })
})

t.test('controls that cannot be read (database away, nothing cached) are the strictest', async (t) => {
  const pool = new pg.Pool({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 2000 })
  t.teardown(() => pool.end())
  const controls = new IdentityControls(pool, { getOrg: async () => null } as unknown as KeyStore)
  const e = event()
  await controls.apply([e])
  t.match(e, { username: null, userDisplayName: null, visitorId: null, clientIp: null, anonymous: true })
})
