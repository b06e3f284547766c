import t from 'tap'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildAppWithTestRoute } from './helpers.js'
import { until } from './load.js'
import { createTestDatabase } from '../helpers/db.js'
import { tcpLink } from '../helpers/tcp-link.js'

// Several instances on one database, each with its own DATA_DIR, as behind a load balancer.

async function send(app: FastifyInstance, visitor: string): Promise<{ eventId: string; visitId: string }> {
  const res = await app.inject({ method: 'POST', url: '/test/events', payload: { org: 'acme', visitors: [visitor] } })
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  const body = res.json<{ eventIds: string[]; visitIds: string[] }>()
  return { eventId: body.eventIds[0]!, visitId: body.visitIds[0]! }
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(sql, values)).rows
  } finally {
    await client.end()
  }
}

/** The visits of a visitor's stored events, in the order of their receipt times. */
async function visitsOf(url: string, visitor: string): Promise<string[]> {
  const rows = await query<{ visit_id: string }>(url, 'SELECT visit_id::text FROM events WHERE visitor_id = $1 ORDER BY received_at', [visitor])
  return rows.map((r) => r.visit_id)
}

t.test("instances whose clocks disagree stamp receipt times on the database's clock", async (t) => {
  const url = await createTestDatabase(t)
  const tenMinutes = 10 * 60_000
  // Visits end after a minute: clocks 20 minutes apart would cut one on every change of instance.
  const env = { VISIT_TIMEOUT_MINUTES: '1' }
  const ahead = (await buildAppWithTestRoute(t, url, env, { machineTime: () => Date.now() + tenMinutes })).app
  const behind = (await buildAppWithTestRoute(t, url, env, { machineTime: () => Date.now() - tenMinutes })).app
  await ahead.keys.createOrg('acme')

  const before = (await query<{ at: Date }>(url, 'SELECT clock_timestamp() AS at'))[0]!.at
  const sent = []
  for (const app of [behind, ahead, behind, ahead]) sent.push(await send(app, 'visitor-1'))
  const after = (await query<{ at: Date }>(url, 'SELECT clock_timestamp() AS at'))[0]!.at

  const stored = await query<{ event_id: string; received_at: Date; visit_id: string }>(
    url,
    'SELECT event_id::text, received_at, visit_id::text FROM events ORDER BY received_at',
  )
  // Each offset is measured to within half a round trip; a second covers a loaded machine.
  const slack = 1000
  for (const row of stored) {
    t.ok(row.received_at.getTime() >= before.getTime() - slack && row.received_at.getTime() <= after.getTime() + slack, `${row.received_at.toISOString()} is on the database's clock`)
  }
  const at = new Map(stored.map((r) => [r.event_id, r.received_at.getTime()]))
  const stamps = sent.map((s) => at.get(s.eventId)!)
  // Events sent one after the other by the two instances: in order, to within the offsets' error.
  t.ok(stamps.every((stamp, i) => i === 0 || stamp > stamps[i - 1]! - slack), `stamped in the order they were sent: ${stamps.map((s) => s - stamps[0]!).join(', ')} ms`)
  t.equal(new Set(stored.map((r) => r.visit_id)).size, 1, 'one visit, whichever instance took each event')

  const metrics = await ahead.inject('/metrics')
  const offset = Number(/^searchtrack_database_clock_offset_seconds (\S+)$/m.exec(metrics.body)?.[1])
  t.ok(Math.abs(offset + 600) < 1, `the instance ahead reports the database 600 s behind it (${offset})`)
})

t.test('an instance that loses the database alone does not split the visits the others keep', async (t) => {
  const url = await createTestDatabase(t)
  const link = await tcpLink(t, url)
  const lonely = (await buildAppWithTestRoute(t, link.url, { SPOOL_RETRY_MS: '100' })).app
  const steady = (await buildAppWithTestRoute(t, url)).app
  await steady.keys.createOrg('acme')

  // Before the cut: `known` visits the lonely instance, `shared` only the steady one.
  const known = [await send(lonely, 'known')]
  const shared = [await send(steady, 'shared')]
  await link.cut()

  // Alternating between the two instances while only one of them reaches the database.
  const alone = []
  for (let i = 0; i < 3; i++) {
    shared.push(await send(lonely, 'shared'), await send(steady, 'shared'))
    known.push(await send(lonely, 'known'), await send(steady, 'known'))
    alone.push(await send(lonely, 'alone'))
  }
  t.equal(lonely.writer.spoolStatus.state, 'spooling', 'the instance that lost the database spooled what it acknowledged')
  t.equal(steady.writer.spoolStatus.state, 'idle', 'the other wrote to the database')
  t.not(shared[1]!.visitId, shared[0]!.visitId, 'unaware of the visit, the lonely instance acknowledged a visit id of its own')

  await link.restore()
  await until(async () => lonely.writer.spoolStatus.state === 'idle', 'the spool to be replayed')

  t.same(await visitsOf(url, 'shared'), Array(7).fill(shared[0]!.visitId), "the visit the steady instance kept took the other's events")
  t.same(await visitsOf(url, 'known'), Array(7).fill(known[0]!.visitId), 'a visit both instances knew stays one')
  t.same(await visitsOf(url, 'alone'), Array(3).fill(alone[0]!.visitId), 'a visit only the lonely instance saw keeps the id it was acknowledged with')
  const current = await query<{ visitor_id: string; visit_id: string }>(url, 'SELECT visitor_id, visit_id::text FROM visitors ORDER BY visitor_id')
  t.same(
    current,
    [
      { visitor_id: 'alone', visit_id: alone[0]!.visitId },
      { visitor_id: 'known', visit_id: known[0]!.visitId },
      { visitor_id: 'shared', visit_id: shared[0]!.visitId },
    ],
    'and each visitor continues that visit',
  )
})
