import t from 'tap'
import pg from 'pg'
import { buildTestApp, manualClock } from '../helpers/app.js'
import { newEvent, type TrackedEvent } from '../../src/events/event.js'
import { EventWriter } from '../../src/store/writer.js'
import { createTestDatabase } from '../helpers/db.js'

function searchEvent(orgId: string, visitorId: string, receivedAt?: Date): TrackedEvent {
  return newEvent({ orgId, protocol: 'coveo', type: 'search', visitorId, queryText: 'q', receivedAt })
}

t.test('concurrent writes share transactions and resolve only after commit', async (t) => {
  const { app } = await buildTestApp(t, { env: { BATCH_WINDOW_MS: '5', WRITER_CONCURRENCY: '2' } })
  await app.keys.createOrg('acme')
  // Count the transactions the database commits while the writes run.
  const before = await app.db.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)
  const N = 400
  const events = Array.from({ length: N }, (_, i) => searchEvent('acme', `visitor-${i % 50}`))
  const settled = await Promise.all(
    events.map(async (e) => {
      await app.writer.write([e])
      // At the moment the promise resolves, the row must be visible to another connection.
      const { rowCount } = await app.db.query('SELECT 1 FROM events WHERE event_id = $1', [e.eventId])
      return rowCount
    }),
  )
  t.same(settled, Array(N).fill(1), 'every event is committed when its promise resolves')
  const batches = await app.metrics.batchSize.get()
  const count = batches.values.find((v) => v.metricName === 'searchtrack_batch_events_count')!.value
  t.ok(count < N / 10, `${N} writes landed in ${count} batches`)
  const after = await app.db.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)
  t.ok(Number(after.rows[0].xact_commit) - Number(before.rows[0].xact_commit) < N, 'far fewer transactions than writes')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, N)
})

t.test('an event written twice is stored once', async (t) => {
  const { app } = await buildTestApp(t)
  await app.keys.createOrg('acme')
  const e = searchEvent('acme', 'v1')
  await app.writer.write([e])
  await app.writer.write([{ ...e, visitId: null }])
  await Promise.all([app.writer.write([{ ...e, visitId: null }]), app.writer.write([{ ...e, visitId: null }])])
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events WHERE event_id = $1', [e.eventId])
  t.equal(rows[0].n, 1)
})

t.test('visits: same visit within the timeout, a new one after it, decided by the database', async (t) => {
  const clock = manualClock()
  const { app } = await buildTestApp(t, { clock })
  await app.keys.createOrg('acme')
  const write = async (visitor: string) => (await app.writer.write([searchEvent('acme', visitor, clock())]))[0]!.visitId
  const first = await write('alice')
  t.ok(first, 'a visit id is assigned')
  clock.advance(29 * 60_000 + 59_000)
  t.equal(await write('alice'), first, '29:59 later: same visit')
  clock.advance(29 * 60_000 + 59_000)
  t.equal(await write('alice'), first, 'the visit slides with activity')
  clock.advance(30 * 60_000 + 1000)
  const second = await write('alice')
  t.not(second, first, '30:01 of silence: a new visit')
  t.not(await write('bob'), second, 'another visitor has a visit of its own')
  const { rows } = await app.db.query(`SELECT visitor_id, count(DISTINCT visit_id)::int AS visits FROM events GROUP BY 1 ORDER BY 1`)
  t.same(rows, [{ visitor_id: 'alice', visits: 2 }, { visitor_id: 'bob', visits: 1 }])
})

t.test('two writers (two instances) agree on the visit of concurrent events', async (t) => {
  const url = await createTestDatabase(t)
  const clock = manualClock()
  const a = await buildTestApp(t, { databaseUrl: url, clock })
  const b = await buildTestApp(t, { databaseUrl: url, clock })
  await a.app.keys.createOrg('acme')
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).app.writer.write([searchEvent('acme', 'carol', clock())])),
  )
  const visits = new Set(results.map((r) => r[0]!.visitId))
  t.equal(visits.size, 1, 'one visit across both instances')
})

t.test('a request the database refuses is found by splitting its batch: only it fails, the others commit', async (t) => {
  const url = await createTestDatabase(t)
  const pool = new pg.Pool({ connectionString: url })
  // The database is dropped (WITH FORCE) at teardown, possibly before this pool ends: an idle
  // client then sees its connection terminated, which must not crash the test process.
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const log = (await import('pino')).pino({ level: 'silent' })
  const writer = new EventWriter(pool, { windowMs: 50, maxBatchEvents: 1000, concurrency: 1, visitTimeoutMinutes: 30, log })
  t.teardown(() => writer.close())
  // A NOT NULL column the edge checks do not cover: the database itself refuses this one event.
  const bad = { ...searchEvent('acme', 'v'), type: null as unknown as 'search' }
  const goods = Array.from({ length: 9 }, (_, i) => [searchEvent('acme', `v${i}`), searchEvent('other', `w${i}`)])
  const results = await Promise.allSettled([...goods.slice(0, 4), [bad], ...goods.slice(4)].map((events) => writer.write(events)))
  t.same(results.map((r) => r.status), [...Array(4).fill('fulfilled'), 'rejected', ...Array(5).fill('fulfilled')], 'one batch, one refusal')
  t.match((results[4] as PromiseRejectedResult).reason, { name: 'EventRefusedError', statusCode: 400, code: 'InvalidValue', sqlstate: '23502' })
  t.ok(writer.healthy, 'bad data does not make the writer unhealthy')
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 18, 'every event of the other requests is stored')
})

t.test('a failure that is not the data rejects the batch and marks the writer unhealthy until it commits again', async (t) => {
  const url = await createTestDatabase(t)
  const pool = new pg.Pool({ connectionString: url })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const log = (await import('pino')).pino({ level: 'silent' })
  const writer = new EventWriter(pool, { windowMs: 5, maxBatchEvents: 100, concurrency: 1, visitTimeoutMinutes: 30, log })
  await pool.query('ALTER TABLE events RENAME TO events_elsewhere')
  const results = await Promise.allSettled([writer.write([searchEvent('acme', 'v')]), writer.write([searchEvent('acme', 'w')])])
  t.same(results.map((r) => r.status), ['rejected', 'rejected'])
  t.match((results[0] as PromiseRejectedResult).reason, { code: '42P01' })
  t.notOk(writer.healthy, 'the writer reports the failure')
  await pool.query('ALTER TABLE events_elsewhere RENAME TO events')
  await writer.write([searchEvent('acme', 'v')])
  t.ok(writer.healthy, 'a committed batch clears the failure')
  await writer.close()
  await t.rejects(writer.write([searchEvent('acme', 'v')]), { name: 'WriterClosedError', statusCode: 503 })
})

t.test('strings PostgreSQL cannot store (NUL, lone surrogates) do not fail a batch', async (t) => {
  const { app } = await buildTestApp(t)
  const e = newEvent({
    orgId: 'acme', protocol: 'coveo', type: 'custom', visitorId: 'v',
    eventValue: 'a\u0000b\ud800c', customData: { 'k\u0000': 'x\udfff', lit: 'back\\u0000slash' },
  })
  await app.writer.write([e])
  const { rows } = await app.db.query('SELECT event_value, custom_data FROM events')
  t.equal(rows[0].event_value, 'ab\ufffdc')
  t.same(rows[0].custom_data, { k: 'x\ufffd', lit: 'back\\u0000slash' })
})

t.test('event ids of one millisecond sort in the order the events were received', async (t) => {
  const at = new Date('2026-06-15T10:00:00.000Z')
  const ids = Array.from({ length: 200 }, () => newEvent({ orgId: 'o', protocol: 'coveo', type: 'search', visitorId: 'v', receivedAt: at }).eventId)
  t.same([...ids].sort(), ids)
  t.equal(new Set(ids).size, ids.length)
})

t.test('a visitor id PostgreSQL stores differently (NUL, lone surrogate) still gets its visit', async (t) => {
  const { app } = await buildTestApp(t)
  const [written] = await app.writer.write([searchEvent('acme', 'bad\u0000\ud800id')])
  t.ok(written!.visitId, 'the visit id is returned')
  const { rows } = await app.db.query('SELECT visitor_id, visit_id::text FROM events')
  t.same(rows, [{ visitor_id: 'bad\ufffdid', visit_id: written!.visitId }])
})

t.test('every column type survives the binary arrays unchanged', async (t) => {
  const { app } = await buildTestApp(t)
  const receivedAt = new Date('1999-12-31T23:59:59.123Z') // before PostgreSQL's epoch: a negative int64
  const e = newEvent({
    orgId: 'acme', protocol: 'coveo', type: 'click', visitorId: 'vé', receivedAt, anonymous: true, isBot: true,
    queryText: 'ünïcödé 🎧 "quoted" back\\slash, {braces}', documentTitle: '', documentPosition: 2 ** 31 - 1,
    numberOfResults: 0, responseTimeMs: -(2 ** 31), outcome: -5, feedbackScore: 32767,
    customData: { nested: { list: [1, 'two', null, true] }, emoji: '🎧' }, extra: { n: 1.5 },
  })
  const [written] = await app.writer.write([e, newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: null })])
  const { rows } = await app.db.query(
    `SELECT event_id::text, received_at, visitor_id, visit_id::text, anonymous, is_bot, query_text, document_title,
            document_position, number_of_results, response_time_ms, outcome, feedback_score, custom_data, extra, language
     FROM events WHERE type = 'click'`,
  )
  t.same(rows[0], {
    event_id: e.eventId, received_at: receivedAt, visitor_id: 'vé', visit_id: written!.visitId, anonymous: true, is_bot: true,
    query_text: e.queryText, document_title: '', document_position: 2 ** 31 - 1, number_of_results: 0,
    response_time_ms: -(2 ** 31), outcome: -5, feedback_score: 32767, custom_data: e.customData, extra: { n: 1.5 }, language: null,
  })
})

t.test('a value its column cannot hold is refused before it is queued, never spooled', async (t) => {
  const { app } = await buildTestApp(t)
  const cases = [
    ['documentPosition', 2 ** 31], ['numberOfResults', 3_000_000_000], ['outcome', 40_000], ['responseTimeMs', 1.5],
    ['feedbackScore', -40_000], ['eventId', 'not-a-uuid'], ['visitId', 'nope'], ['visitorId', 'é'.repeat(600)],
    ['idempotencyKey', 'k'.repeat(513)], ['orgId', 'Not An Org'], ['receivedAt', new Date(NaN)], ['price', Infinity], ['revenue', NaN], ['quantity', '2'],
  ] as const
  for (const [field, value] of cases) {
    const e = { ...newEvent({ orgId: 'acme', protocol: 'coveo', type: 'click', visitorId: 'v' }), [field]: value }
    const good = newEvent({ orgId: 'acme', protocol: 'coveo', type: 'click', visitorId: 'v' })
    await t.rejects(app.writer.write([good, e]), { name: 'EventValueError', statusCode: 400, code: 'InvalidValue' }, `${field}`)
    t.equal(app.writer.queueDepth, 0, `${field}: nothing of the request was queued`)
  }
  t.equal(app.writer.spoolStatus.state, 'idle', 'the writer did not take the database for unreachable')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0)
})

// price, quantity and revenue are numeric columns written from doubles (sent as float8 and cast on
// insert): what a client writes in JSON with up to 15 significant digits comes back as written.
t.test('commerce amounts are stored as the decimals the client wrote', async (t) => {
  const { app } = await buildTestApp(t)
  const amounts = [19.99, 0.1 + 0.2, 123456789012.34, 0, 0.5, 1e-7, 99999999999999.9]
  const events = amounts.map((price, i) =>
    newEvent({ orgId: 'acme', protocol: 'coveo-events', type: 'commerce', visitorId: `v${i}`, price, quantity: price, revenue: price, currency: 'USD', transactionId: `tx${i}`, trackingId: 'shop' }),
  )
  await app.writer.write(events)
  const { rows } = await app.db.query('SELECT price::text, quantity::text, revenue::text, currency, transaction_id, tracking_id FROM events ORDER BY event_id')
  t.same(rows.map((r) => r.price), ['19.99', '0.3', '123456789012.34', '0', '0.5', '0.0000001', '99999999999999.9'])
  t.same(rows.map((r) => r.quantity), rows.map((r) => r.price))
  t.same(rows.map((r) => r.revenue), rows.map((r) => r.price))
  t.match(rows[0], { currency: 'USD', transaction_id: 'tx0', tracking_id: 'shop' })
})
