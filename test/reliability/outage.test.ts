import t from 'tap'
import pg from 'pg'
import { buildAppWithTestRoute, notExactlyOnce, ownPostgres } from './helpers.js'
import { listen } from '../helpers/app.js'
import { startLoad, until } from './load.js'
import { newEvent } from '../../src/events/event.js'

// The database stops under steady load and comes back: every acknowledged event is stored exactly
// once, with the visit id it was acknowledged with, and no request failed while the spool had room.
t.test('database outage under load: spool, replay, nothing lost or doubled', async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url, { SPOOL_RETRY_MS: '100' })
  await app.keys.createOrg('acme')
  const base = await listen(app)
  const ready = async () => (await (await fetch(`${base}/ready`)).json()) as { status: string; spool: { state: string; bytes: number } }

  const load = startLoad(`${base}/test/events`, { org: 'acme', workers: 8 })
  await load.ackedMore(300)
  t.equal((await ready()).status, 'ready')

  await db.stop()
  await load.ackedMore(600)
  t.equal(app.writer.spoolStatus.state, 'spooling', 'events acknowledged during the outage went to the spool')
  const degraded = await fetch(`${base}/ready`)
  const degradedBody = (await degraded.json()) as { status: string; database: string; spool: { state: string; bytes: number } }
  t.equal(degraded.status, 200, '/ready stays 200 while the spool has room')
  t.match(degradedBody, { status: 'degraded', database: 'down', spool: { state: 'spooling' } })
  t.ok(degradedBody.spool.bytes > 0, 'the spool reports what it holds')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /^searchtrack_spooling 1$/m, 'and so do the metrics')
  t.match(metrics, /^searchtrack_spool_bytes [1-9]\d*$/m)

  await db.start()
  await until(async () => (await ready()).status === 'ready', 'the spool to be replayed')
  await load.ackedMore(300)
  const result = await load.stop()
  await until(async () => app.writer.spoolStatus.state === 'idle', 'the last spooled batches')

  t.same([...result.statuses.keys()], [200], 'every request was acknowledged (no 5xx while the spool had room)')
  t.same(await notExactlyOnce(db.url, result.acked), [], `all ${result.acked.length} acknowledged events stored exactly once`)

  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  t.teardown(() => client.end())
  const { rows } = await client.query<{ event_id: string; visit_id: string | null }>(
    'SELECT event_id::text, visit_id::text FROM events WHERE event_id = ANY($1::uuid[])',
    [result.acked],
  )
  const changed = rows.filter((r) => r.visit_id !== result.visits.get(r.event_id))
  t.same(changed, [], 'each event keeps the visit id it was acknowledged with')
  // Visitors seen during the outage continue their cached visit after it: the database took it over.
  const sessions = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT visitor_id FROM events GROUP BY visitor_id HAVING count(DISTINCT visit_id) > 1) x`,
  )
  t.equal(sessions.rows[0]!.n, 0, 'one visit per visitor across the outage')
})

t.test('a full spool answers 503 with Retry-After; what it acknowledged is kept', async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url, { SPOOL_MAX_BYTES: '65536', SPOOL_RETRY_MS: '100' })
  await app.keys.createOrg('acme')
  const base = await listen(app)
  await db.stop()

  const load = startLoad(`${base}/test/events`, { org: 'acme', workers: 4, visitorsPerRequest: 5 })
  await until(() => load.result.failures.length >= 20, 'the spool to fill')
  const result = await load.stop()
  const ready = await fetch(`${base}/ready`)
  t.equal(ready.status, 503, '/ready is 503 once the spool is full')

  t.ok(result.acked.length > 0, `${result.acked.length} events acknowledged before the spool filled`)
  const statuses = new Set(result.failures.map((f) => f.status))
  t.same([...statuses], [503], 'refused with 503 only')
  for (const failure of result.failures.slice(0, 5)) {
    t.equal(failure.headers['retry-after'], '30')
    t.same(JSON.parse(failure.body), { message: 'Events cannot be stored right now; retry later', type: 'StorageUnavailable' })
  }

  await db.start()
  await until(async () => app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')
  t.same(await notExactlyOnce(db.url, result.acked), [], 'every acknowledged event is stored once')
  t.equal((await fetch(`${base}/ready`)).status, 200)
})

t.test('a batch the database refuses is rejected, not spooled', async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url)
  const bad = { ...newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: 'v' }), type: null as unknown as 'search' }
  await t.rejects(app.writer.write([bad]), { statusCode: 400, code: 'InvalidValue', sqlstate: '23502' }, 'a NOT NULL violation fails the request')
  t.equal(app.writer.spoolStatus.state, 'idle')
  t.equal(app.writer.spoolStatus.bytes, 0, 'nothing was spooled')
})
