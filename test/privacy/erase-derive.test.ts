import pg from 'pg'
import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'
import { until } from '../reliability/load.js'
import { applyChunk, SETUP_SQL } from '../../src/reports/maintenance/facts.js'

const VISITOR = 'vis-gil-31f0aa'

/*
 * The report maintenance reads a chunk of events and writes their facts in one transaction. An
 * erasure arriving in between deletes the person's events, which the chunk has already read: the
 * chunk's facts must not survive the erasure. Here the chunk is held open after it wrote the facts
 * of the person's search until the erasure has deleted the events; the erasure then waits for the
 * chunk (on the derive lock, and on the queued keys the chunk took), sees its facts and deletes
 * them. Finishing first, it would leave them.
 */
t.test('an erasure during a maintenance chunk leaves none of the chunk\'s facts of the person', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t, { env: { REPORTS_MAINTENANCE: 'false', RATE_LIMIT_PER_MINUTE: '0' } })
  const push = await createKey(app, 'acme', ['analytics:push', 'impersonate'])
  const admin = await createKey(app, 'acme', ['admin'])
  const search = await app.inject({
    method: 'POST', url: `/rest/ua/v15/analytics/search?visitor=${VISITOR}`, headers: { authorization: `Bearer ${push.key}` },
    payload: { language: 'en', queryText: 'private matter', actionCause: 'searchboxSubmit', responseTime: 5, numberOfResults: 1, searchQueryUid: 'g1' },
  })
  t.equal(search.statusCode, 200)

  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(() => client.end())
  await client.query(SETUP_SQL)
  // The chunk's client stops after its first statement writing searches, until released.
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let paused = false
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>
  const held = Object.assign(Object.create(client) as pg.Client, {
    query: async (...args: unknown[]) => {
      const result = await query(...args)
      const text = typeof args[0] === 'string' ? args[0] : ''
      if (!paused && /INSERT INTO report_searches/.test(text)) {
        paused = true
        await released
      }
      return result
    },
  })
  const chunk = applyChunk(held, 1000)
  await until(() => paused, 'the chunk wrote the search facts')

  let erased = false
  const erasure = app.inject({
    method: 'POST', url: '/api/v1/admin/orgs/acme/privacy/erase', headers: { authorization: `Bearer ${admin.key}` }, payload: { visitorId: VISITOR },
  }).then((reply) => {
    erased = true
    return reply
  })
  const gone = async () => (await app.db.query(`SELECT 1 FROM events WHERE org_id = 'acme' AND visitor_id = $1`, [VISITOR])).rowCount === 0
  await until(gone, 'the erasure deleted the events')
  await until(async () => erased || (await app.db.query(`SELECT 1 FROM pg_locks WHERE NOT granted`)).rowCount! > 0,
    'the erasure finished or waits for the chunk')
  release()
  await chunk
  const reply = await erasure
  t.equal(reply.statusCode, 200, reply.body)
  for (const table of ['report_searches', 'report_visits']) {
    const left = await app.db.query(`SELECT 1 FROM ${table} WHERE org_id = 'acme' AND visitor_id = $1`, [VISITOR])
    t.equal(left.rowCount, 0, `no ${table} row of the erased person`)
  }
})
