import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, manualClock } from '../helpers/app.js'
import { until } from '../reliability/load.js'
import { newEvent } from '../../src/events/event.js'
import { ensurePartitions } from '../../src/store/partitions.js'
import { updateSettings } from '../../src/privacy/settings.js'

async function store(app: FastifyInstance, clock: ReturnType<typeof manualClock>, orgId: string, at: string, visitorId: string): Promise<void> {
  clock.set(new Date(at))
  await app.writer.write([newEvent({ orgId, protocol: 'coveo', type: 'search', visitorId, queryText: `q ${at}` }, clock)])
}

async function kept(app: FastifyInstance): Promise<string[]> {
  const { rows } = await app.db.query<{ k: string }>(
    `SELECT org_id || ' ' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || tableoid::regclass::text AS k FROM events ORDER BY org_id, received_at`,
  )
  return rows.map((r) => r.k)
}

async function partitions(app: FastifyInstance): Promise<string[]> {
  const { rows } = await app.db.query<{ p: string }>(
    `SELECT c.relname AS p FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`,
  )
  return rows.map((r) => r.p)
}

t.test('retention by a manual clock: batch deletes per org, whole partitions dropped when every org allows it', async (t) => {
  const clock = manualClock(new Date('2026-06-15T12:00:00.000Z'))
  const { app } = await buildTestApp(t, { clock, env: { REPORTS_TILE_REBUILD_SECONDS: '0', REPORTS_IDLE_MS: '50' } })
  for (const org of ['alpha', 'beta', 'gamma']) await app.keys.createOrg(org)
  await ensurePartitions(app.db, new Date('2026-03-01T00:00:00.000Z'), 2)

  await store(app, clock, 'alpha', '2026-03-05T10:00:00Z', 'a1')
  await store(app, clock, 'alpha', '2026-04-10T10:00:00Z', 'a2')
  await store(app, clock, 'alpha', '2026-04-20T10:00:00Z', 'a3')
  await store(app, clock, 'alpha', '2026-06-10T10:00:00Z', 'a4')
  await store(app, clock, 'beta', '2026-03-05T10:00:00Z', 'b1')
  await store(app, clock, 'beta', '2026-03-20T10:00:00Z', 'b2')
  await store(app, clock, 'beta', '2026-06-10T10:00:00Z', 'b3')
  // gamma keeps everything (no setting): its April row keeps April's partition.
  await store(app, clock, 'gamma', '2026-04-25T10:00:00Z', 'g1')
  await until(async () => (await app.db.query('SELECT 1 FROM report_inbox LIMIT 1')).rowCount === 0, 'the report facts')
  await until(async () => (await app.db.query('SELECT 1 FROM report_hours WHERE dirty_since IS NOT NULL LIMIT 1')).rowCount === 0, 'the tiles')

  // Document and content-gap day tiles of alpha, one before its rollup cut-off (17 March) and one after.
  for (const day of ['2026-03-10', '2026-04-20']) {
    await app.db.query(`INSERT INTO report_document_days VALUES ('alpha', $1, 'kb-1', false, 1, 1, 1, 0, 0, 0)`, [day])
    await app.db.query(`INSERT INTO report_gap_days VALUES ('alpha', $1, false, 'vpn', 'vpn', NULL, 1)`, [day])
  }
  await updateSettings(app.db, 'alpha', { rawDays: 60, rollupDays: 90 })
  await updateSettings(app.db, 'beta', { rawDays: 100 })
  clock.set(new Date('2026-06-15T12:00:00.000Z'))
  // alpha's cut-off is 16 April, beta's 7 March: March holds beta's 20 March, so rows go one by one.
  let result = await app.retention.runOnce()
  t.same(result.dropped, [])
  t.same(await kept(app), [
    'alpha 2026-04-20 events_y2026m04', 'alpha 2026-06-10 events_y2026m06',
    'beta 2026-03-20 events_y2026m03', 'beta 2026-06-10 events_y2026m06',
    'gamma 2026-04-25 events_y2026m04',
  ])
  t.equal(result.deleted.events, 3)
  t.equal((await app.db.query(`SELECT 1 FROM report_searches WHERE org_id = 'alpha' AND received_at < '2026-04-16'`)).rowCount, 0, 'alpha\'s expired facts are gone')
  t.equal((await app.db.query(`SELECT 1 FROM visitors WHERE visitor_id IN ('a1', 'a2', 'b1')`)).rowCount, 0, 'and the visitors last seen before the cut-off')
  t.equal((await app.db.query(`SELECT 1 FROM report_tiles WHERE org_id = 'alpha' AND hour < '2026-03-17'`)).rowCount, 0, 'alpha\'s tiles older than 90 days are gone')
  t.ok((await app.db.query(`SELECT 1 FROM report_tiles WHERE org_id = 'alpha' AND hour >= '2026-04-01'`)).rowCount! > 0, 'its newer tiles stay')
  t.equal((await app.db.query(`SELECT 1 FROM report_day_tiles WHERE org_id = 'alpha' AND day < '2026-03-17'`)).rowCount, 0, 'and its day tiles')
  t.equal((await app.db.query(`SELECT 1 FROM report_days WHERE org_id = 'alpha' AND day < '2026-03-17'`)).rowCount, 0)
  t.ok((await app.db.query(`SELECT 1 FROM report_day_tiles WHERE org_id = 'alpha' AND day >= '2026-04-01'`)).rowCount! > 0, 'its newer day tiles stay')
  for (const table of ['report_document_days', 'report_gap_days']) {
    const days = await app.db.query(`SELECT day FROM ${table} WHERE org_id = 'alpha'`)
    t.same(days.rows.map((x) => x.day.toISOString()), ['2026-04-20T00:00:00.000Z'], `${table} follow the rollups`)
  }
  const visitDays = await app.db.query(`SELECT day, visitors IS NOT NULL AS hashes FROM report_visit_days WHERE org_id = 'alpha' ORDER BY day`)
  t.ok(visitDays.rows.length > 0 && visitDays.rows.every((x) => x.day >= new Date('2026-03-17')), 'its visit day tiles follow the rollups')
  t.ok(visitDays.rows.every((x) => x.hashes === x.day >= new Date('2026-04-16')), 'but keep visitors\' hashes only after the raw cut-off')

  // beta now keeps 30 days (cut-off 16 May): every org with rows in March allows it: dropped.
  await updateSettings(app.db, 'beta', { rawDays: 30 })
  result = await app.retention.runOnce()
  t.same(result.dropped, ['events_y2026m03'])
  t.notOk((await partitions(app)).includes('events_y2026m03'))

  // In July, alpha and beta allow April, but gamma (no retention) has a row there: only theirs go.
  clock.set(new Date('2026-07-05T12:00:00.000Z'))
  result = await app.retention.runOnce()
  t.same(result.dropped, ['events_y2026m05'], 'May is empty and past every cut-off: dropped')
  t.same(await kept(app), ['alpha 2026-06-10 events_y2026m06', 'beta 2026-06-10 events_y2026m06', 'gamma 2026-04-25 events_y2026m04'])
  t.ok((await partitions(app)).includes('events_y2026m04'))

  // Erasure records are kept 30 days by the service clock.
  await app.db.query(
    `INSERT INTO privacy_erasures (org_id, subject, erased_before) VALUES ('alpha', privacy_subject('visitor', 'old'), '2026-05-01'), ('alpha', privacy_subject('visitor', 'recent'), '2026-06-20')`,
  )
  result = await app.retention.runOnce()
  t.equal(result.deleted.privacy_erasures, 1)
  t.equal((await app.db.query('SELECT 1 FROM privacy_erasures')).rowCount, 1, 'the recent one stays')

  // The worker's figures on /metrics: the oldest raw event per org and the last pass.
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, new RegExp(`searchtrack_oldest_event_timestamp_seconds\\{org="gamma"\\} ${Date.parse('2026-04-25T10:00:00Z') / 1000}`))
  t.match(metrics, new RegExp(`searchtrack_retention_last_run_timestamp_seconds ${Date.parse('2026-07-05T12:00:00Z') / 1000}`))
  t.match(metrics, /searchtrack_retention_dropped_partitions_total 2/)

  // The schedule: a pass once the service clock has moved an interval (60 minutes) past the last.
  await updateSettings(app.db, 'gamma', { rawDays: 30 })
  clock.set(new Date('2026-07-05T14:00:00.000Z'))
  const ranAt = new RegExp(`searchtrack_retention_last_run_timestamp_seconds ${Date.parse('2026-07-05T14:00:00Z') / 1000}`)
  await until(async () => ranAt.test((await app.inject('/metrics')).body), 'the scheduled pass', 30_000)
  t.equal((await app.db.query(`SELECT 1 FROM events WHERE org_id = 'gamma'`)).rowCount, 0, 'it applied gamma\'s new retention')
})

t.test('a row caught by the default partition is moved into its month\'s partition when that is created', async (t) => {
  const clock = manualClock(new Date('2026-06-15T12:00:00.000Z'))
  const { app } = await buildTestApp(t, { clock })
  await app.keys.createOrg('acme')
  // Three months ahead of the clock: no partition for September yet.
  await store(app, clock, 'acme', '2026-09-10T10:00:00Z', 'v1')
  await store(app, clock, 'acme', '2026-10-10T10:00:00Z', 'v2')
  t.same(await kept(app), ['acme 2026-09-10 events_default', 'acme 2026-10-10 events_default'])
  const created = await ensurePartitions(app.db, new Date('2026-08-20T00:00:00Z'), 1)
  t.same(created, ['events_y2026m09'])
  t.same(await kept(app), ['acme 2026-09-10 events_y2026m09', 'acme 2026-10-10 events_default'], 'September\'s row moved, October\'s waits for its month')
  // Its report queue entry and facts are keyed by event, not partition: unaffected.
  t.equal((await app.db.query(`SELECT 1 FROM events WHERE org_id = 'acme'`)).rowCount, 2)
})

t.test('raw retention deletes Inbenta session action facts past the cut-off with the other facts', async (t) => {
  const clock = manualClock(new Date('2026-06-15T12:00:00.000Z'))
  const { app } = await buildTestApp(t, { clock, env: { REPORTS_IDLE_MS: '50' } })
  await app.keys.createOrg('acme')
  await ensurePartitions(app.db, new Date('2026-03-01T00:00:00.000Z'), 2)
  const action = async (at: string, visitorId: string, dataKey: string) => {
    clock.set(new Date(at))
    await app.writer.write([newEvent({ orgId: 'acme', protocol: 'inbenta', type: 'session', visitorId, eventType: dataKey, extra: { dataKey } }, clock)])
  }
  await action('2026-04-10T10:00:00Z', 'inbenta:old', 'START')
  await action('2026-04-10T10:01:00Z', 'inbenta:old', 'CONTACT_START')
  await action('2026-06-10T10:00:00Z', 'inbenta:new', 'START')
  await until(async () => (await app.db.query('SELECT 1 FROM report_inbox LIMIT 1')).rowCount === 0, 'the report facts')
  const actions = async () => (await app.db.query<{ d: string }>(
    `SELECT to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || data_key AS d FROM report_session_actions ORDER BY received_at`)).rows.map((r) => r.d)
  t.same(await actions(), ['2026-04-10 START', '2026-04-10 CONTACT_START', '2026-06-10 START'])

  await updateSettings(app.db, 'acme', { rawDays: 30 })
  clock.set(new Date('2026-06-15T12:00:00.000Z'))
  const result = await app.retention.runOnce()
  t.equal(result.deleted.report_session_actions, 2)
  t.same(await actions(), ['2026-06-10 START'], 'the actions before the cut-off are gone, the later one stays')
})
