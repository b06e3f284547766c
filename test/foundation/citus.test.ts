import pg from 'pg'
import t from 'tap'
import { newEvent } from '../../src/events/event.js'
import { CITUS_WRITER_FUNCTION } from '../../src/store/citus.js'
import { EventWriter } from '../../src/store/writer.js'
import { createTestDatabase } from '../helpers/db.js'

// migrations/090_citus.sql and the writer's Citus path (docs/citus.md). Runs against either server:
// on plain PostgreSQL it checks nothing of Citus was made; on Citus (npm run test:citus), the layout.
const log = { info() {}, warn() {}, error() {}, debug() {} } as never

t.test('one org spreads over the shards; a visitor, its visits and events stay on one', async (t) => {
  const url = await createTestDatabase(t)
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  t.teardown(() => pool.end())
  const citus = (await pool.query(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS c`)).rows[0].c as boolean
  const column = await pool.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'shard_key'`)
  const fn = await pool.query('SELECT 1 FROM pg_proc WHERE proname = $1', [CITUS_WRITER_FUNCTION])
  if (!citus) {
    t.equal(column.rowCount, 0, 'plain PostgreSQL: events has no shard_key')
    t.equal(fn.rowCount, 0, 'plain PostgreSQL: no Citus writer function')
    return
  }
  t.equal(column.rowCount, 1, 'events has its shard_key')
  const distributed = await pool.query(`SELECT 1 FROM pg_dist_object WHERE objid = (SELECT oid FROM pg_proc WHERE proname = $1)`, [CITUS_WRITER_FUNCTION])
  t.equal(distributed.rowCount, 1, 'the writer function is distributed')
  await pool.query(`INSERT INTO organizations (org_id, name, jwt_secret) VALUES ('acme', 'Acme', 'x')`)
  const writer = new EventWriter(pool, { windowMs: 2, maxBatchEvents: 1000, concurrency: 2, visitTimeoutMinutes: 30, log })
  const events = Array.from({ length: 200 }, (_, i) =>
    newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: i % 10 === 9 ? null : `visitor-${i % 40}`, queryText: 'q' }))
  await writer.write(events)
  await writer.close()
  const { rows: spread } = await pool.query(`SELECT count(DISTINCT get_shard_id_for_distribution_column('events', shard_key))::int AS shards,
    count(*)::int AS n FROM events WHERE org_id = 'acme'`)
  t.equal(spread[0].n, 200, 'every event stored')
  t.ok(spread[0].shards > 1, `one org over ${spread[0].shards} shards`)
  // Colocated shards cover the same hash range: a visitor's row and its events share one.
  const { rows: apart } = await pool.query(`
    SELECT count(*)::int AS n FROM events e
    JOIN pg_dist_shard es ON es.shardid = get_shard_id_for_distribution_column('events', e.shard_key)
    JOIN pg_dist_shard vs ON vs.shardid = get_shard_id_for_distribution_column('visitors', e.visitor_id)
    WHERE e.visitor_id IS NOT NULL AND es.shardminvalue <> vs.shardminvalue`)
  t.equal(apart[0].n, 0, "every event on its visitor's shard")
  const { rows: visits } = await pool.query(`SELECT count(DISTINCT visit_id)::int AS visits, count(DISTINCT visitor_id)::int AS visitors
    FROM events WHERE visitor_id IS NOT NULL`)
  t.equal(visits[0].visitors, 36, 'the visitors (every tenth event has none)')
  t.equal(visits[0].visits, 36, 'one visit per visitor')
  const { rows: keys } = await pool.query(`SELECT shard_key = coalesce(visitor_id, event_id::text) AS ok FROM events`)
  t.ok(keys.every((r) => r.ok), 'shard_key is the visitor, else the event')
  const { rows: inbox } = await pool.query('SELECT count(*)::int AS n FROM report_inbox')
  t.equal(inbox[0].n, 200, 'every event queued for the reports')
})
