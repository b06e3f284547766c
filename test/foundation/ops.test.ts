import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { newEvent } from '../../src/events/event.js'
import { loadConfig } from '../../src/config.js'
import { migrate } from '../../src/store/migrate.js'
import { ensurePartitions } from '../../src/store/partitions.js'
import { classifyUserAgent, maskIp } from '../../src/events/enrich.js'
import { originAllowed } from '../../src/auth/origins.js'

t.test('health, readiness, metrics and request ids', async (t) => {
  const { app } = await buildTestApp(t)
  const health = await app.inject('/health')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'up' })
  t.match(health.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'a request id is generated')

  const ready = await app.inject({ url: '/ready', headers: { 'x-request-id': 'trace-42' } })
  t.match(ready.json(), { status: 'ready', database: 'up', writer: 'healthy', queuedEvents: 0, spool: { full: false } })
  t.equal(ready.headers['x-request-id'], 'trace-42', 'a client request id is honoured')
  const hostile = await app.inject({ url: '/health', headers: { 'x-request-id': 'a b\u0001'.repeat(100) } })
  t.not(hostile.headers['x-request-id'], 'a b\u0001'.repeat(100), 'but not one that is no id')

  await app.keys.createOrg('acme')
  await app.writer.write([newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: 'v' })])
  const metrics = await app.inject('/metrics')
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /^text\/plain/)
  t.match(metrics.body, /searchtrack_batch_events_count 1/)
  t.match(metrics.body, /searchtrack_commit_seconds_bucket/)
  t.match(metrics.body, /searchtrack_writer_queue_events 0/)
  t.match(metrics.body, /searchtrack_spool_bytes 0/)
  t.match(metrics.body, /searchtrack_spooling 0/)

  const missing = await app.inject('/nope')
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { message: 'No route for GET /nope', type: 'NotFound' })
})

t.test('readiness says degraded when the database is gone and the spool takes the events', async (t) => {
  const { app } = await buildTestApp(t)
  await app.db.end()
  const ready = await app.inject('/ready')
  // Still 200: taking every instance out of rotation during an outage would lose the very
  // events the spool keeps (test/reliability covers the 503 of a full spool).
  t.equal(ready.statusCode, 200)
  t.match(ready.json(), { status: 'degraded', database: 'down' })
  // The pool is closed already; keep onClose from ending it twice.
  app.db.end = async () => {}
})

t.test('migrations: concurrent runs apply each file once; partitions are created ahead', async (t) => {
  const { app } = await buildTestApp(t)
  const results = await Promise.all([migrate(app.db), migrate(app.db), migrate(app.db)])
  t.same(results.map((r) => r.applied.length), [0, 0, 0], 'already applied by the test database setup')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM schema_migrations')
  t.ok(rows[0].n >= 1)
  const created = await ensurePartitions(app.db, new Date('2031-01-20T00:00:00Z'), 1)
  t.same(created, ['events_y2031m01', 'events_y2031m02'])
  t.same(await ensurePartitions(app.db, new Date('2031-01-20T00:00:00Z'), 1), [], 'idempotent')
  await app.keys.createOrg('acme')
  await app.writer.write([newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: 'v', receivedAt: new Date('2031-02-03T00:00:00Z') })])
  const part = await app.db.query(`SELECT tableoid::regclass::text AS p FROM events`)
  t.equal(part.rows[0].p, 'events_y2031m02', 'rows land in their month')
})

t.test('config: defaults, conversion and one clear error', async (t) => {
  const c = loadConfig({})
  t.match(c, { PORT: 8080, HOST: '127.0.0.1', DATA_DIR: '.data', VISIT_TIMEOUT_MINUTES: 30, LOG_LEVEL: 'info' })
  t.equal(loadConfig({ PORT: '9000', TRUST_PROXY: 'true' }).PORT, 9000)
  t.throws(() => loadConfig({ PORT: '-1', LOG_LEVEL: 'loud' }), /invalid configuration:\n {2}PORT="-1".*\n {2}LOG_LEVEL="loud"/s)
})

t.test('user agents, IP masking, origins', async (t) => {
  const chrome = classifyUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36')
  t.match(chrome, { browser: 'Chrome 120', os: 'Windows 10', deviceCategory: 'desktop', isBot: false })
  const iphone = classifyUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1')
  t.match(iphone, { deviceCategory: 'mobile', isBot: false })
  t.match(classifyUserAgent('Googlebot/2.1 (+http://www.google.com/bot.html)'), { deviceCategory: 'bot', isBot: true })
  t.match(classifyUserAgent(undefined), { deviceCategory: 'other', isBot: false })
  t.equal(maskIp('203.0.113.77'), '203.0.113.0')
  t.equal(maskIp('::ffff:10.1.2.3'), '10.1.2.0')
  t.equal(maskIp('2001:db8:abcd:12::1'), '2001:db8:abcd::')
  t.equal(maskIp('nonsense'), null)
  t.ok(originAllowed({ allowedOrigins: null }, 'https://a.example'))
  t.ok(originAllowed({ allowedOrigins: ['https://a.example'] }, 'https://a.example'))
  t.notOk(originAllowed({ allowedOrigins: ['https://a.example'] }, 'https://b.example'))
})
