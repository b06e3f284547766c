import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { buildAppWithTestRoute, captureLogs, notExactlyOnce, ownPostgres, tempDir } from '../reliability/helpers.js'
import { createKey } from '../helpers/app.js'
import { startLoad, until } from '../reliability/load.js'
import { newEvent, type TrackedEvent } from '../../src/events/event.js'
import { Spool } from '../../src/store/spool.js'
import { listQuarantine, redriveQuarantine } from '../../src/store/quarantine.js'

// A poison event: acknowledged (spooled during an outage), then refused by the database when the
// spool is replayed. It must be set aside, and everything behind it stored.

/** Events refused by the database for their data, as a trigger makes them: an error of class 22. */
const REFUSE_TRIGGER = `
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.query_text = 'poison' THEN RAISE EXCEPTION 'poison refused' USING ERRCODE = '22023'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_poison();`

async function sql(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(text, values)
  } finally {
    await client.end()
  }
}

const searchEvent = (orgId: string, visitorId: string, queryText = 'q') =>
  newEvent({ orgId, protocol: 'coveo', type: 'search', visitorId, queryText })

t.test('the edge refuses what would become a poison event: no 200 for a value the database cannot index', async (t) => {
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url)
  const admin = await createKey(app, 'acme', ['impersonate', 'analytics:push'])
  const minted = await app.inject({
    method: 'POST', url: '/rest/search/v2/token', headers: { authorization: `Bearer ${admin.key}` },
    payload: { userIds: [{ name: 'u'.repeat(4000), provider: 'Email Security Provider', type: 'User' }] },
  })
  t.equal(minted.statusCode, 400, 'a token for a 4,000-character user name is not minted')
  t.match(minted.json(), { type: 'InvalidObject', message: /userIds\[0\]\.name.*at most 255/ })

  // A token signed by the organization's own backend all the same (it has the secret).
  const org = (await app.keys.getOrg('acme'))!
  const forged = app.jwt.sign({ organization: 'acme', userIds: [{ name: 'u'.repeat(4000) }] }, { key: org.jwtSecret, algorithm: 'HS256', expiresIn: 600 })
  const click = await app.inject({
    method: 'POST', url: '/api/ws/v1/analytics/event', headers: { authorization: `Bearer ${forged}` },
    payload: { type: 'click', query_id: 'q', page: 1, content_source_id: 's', document_id: 'd', rank: 0, event: 'e' },
  })
  t.equal(click.statusCode, 401, 'a Workplace event from it is refused before acknowledgement')
  t.match(click.json(), { errors: [/user name is longer than 255/] })
})

t.test('poison events in a real spool, replayed after a real outage: quarantined, every other event stored', async (t) => {
  const db = await ownPostgres(t)
  await sql(db.url, REFUSE_TRIGGER)
  const dataDir = await tempDir(t, 'searchtrack-poison-')

  // What a previous run left in its spool: good events of two orgs around two poison events, one
  // with a visitor id too long for the visitors index (an older version took it), one the trigger
  // refuses. Written with the service's own Spool, as that run did.
  const before = await Spool.open({ dir: path.join(dataDir, 'spool'), maxBytes: 1 << 24, segmentBytes: 1 << 20, log: pino({ level: 'silent' }) })
  // 4,000 characters that do not compress (a repeated letter would, and fit the index).
  const tooLong = searchEvent('acme', randomBytes(2000).toString('hex'))
  const refused = searchEvent('acme', 'alice', 'poison')
  const leftBehind: TrackedEvent[][] = [
    [searchEvent('acme', 'alice'), searchEvent('globex', 'bob')],
    [tooLong],
    [searchEvent('globex', 'carol'), refused, searchEvent('acme', 'dave')],
    [searchEvent('globex', 'erin')],
  ]
  for (const batch of leftBehind) await before.append(batch)
  await before.close()
  const goodLeftBehind = leftBehind.flat().filter((e) => e !== tooLong && e !== refused).map((e) => e.eventId)

  await db.stop()
  const logs = captureLogs()
  const { app } = await buildAppWithTestRoute(t, db.url, { DATA_DIR: dataDir, SPOOL_RETRY_MS: '50' }, { logs })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })

  // More events acknowledged during the outage, of both orgs, behind the poison.
  const acme = startLoad(`${base}/test/events`, { org: 'acme', workers: 4 })
  const globex = startLoad(`${base}/test/events`, { org: 'globex', workers: 4 })
  await Promise.all([acme.ackedMore(200), globex.ackedMore(200)])
  const [a, g] = await Promise.all([acme.stop(), globex.stop()])
  t.same([...a.statuses.keys(), ...g.statuses.keys()], [200, 200], 'acknowledged from the spool during the outage')

  await db.start()
  await until(() => app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')

  const acked = [...goodLeftBehind, ...a.acked, ...g.acked]
  t.same(await notExactlyOnce(db.url, acked), [], `all ${acked.length} other acknowledged events are stored, once`)
  const quarantined = await sql(db.url, 'SELECT event_id::text, sqlstate, reason, event FROM quarantined_events ORDER BY sqlstate')
  t.same(quarantined.rows.map((r) => [r.event_id, r.sqlstate]), [[refused.eventId, '22023'], [tooLong.eventId, '54000']], 'both poison events are in the quarantine')
  t.match(quarantined.rows[1].reason, /index row/, 'with the reason the database gave')
  t.equal(quarantined.rows[1].event.visitorId, tooLong.visitorId, 'whole')
  const stored = await sql(db.url, 'SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[])', [[tooLong.eventId, refused.eventId]])
  t.equal(stored.rows[0].n, 0, 'and not in the events table')

  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /^searchtrack_events_quarantined_total\{store="table"\} 2$/m, 'counted in /metrics')
  for (const id of [tooLong.eventId, refused.eventId]) {
    t.ok(logs.lines.some((l) => l.msg === 'acknowledged event refused by the database: quarantined' && l.eventId === id), `logged with its event id ${id}`)
  }
  t.equal((await app.inject({ url: '/ready' })).json().status, 'ready', 'the instance is ready, not failing')

  // Fixed cause, re-drive: the refused one is stored with the visit it was acknowledged with; the
  // one no index can take stays.
  await sql(db.url, 'DROP TRIGGER refuse_poison ON events')
  const result = await redriveQuarantine(app.db, path.join(dataDir, 'quarantine'), 30)
  t.same(result.stored, [refused.eventId], 're-driven')
  t.same(result.refused.map((r) => r.eventId), [tooLong.eventId], 'still refused')
  t.same(await notExactlyOnce(db.url, [refused.eventId]), [])
  t.same((await listQuarantine(app.db, path.join(dataDir, 'quarantine'))).map((r) => r.eventId), [tooLong.eventId])
})

t.test('when the database refuses the quarantine table too, the event goes to a fsynced file', async (t) => {
  const db = await ownPostgres(t)
  await sql(db.url, REFUSE_TRIGGER)
  // The quarantine table refuses every row from now on.
  await sql(db.url, 'ALTER TABLE quarantined_events ADD CONSTRAINT refuse_all CHECK (false) NOT VALID')
  const dataDir = await tempDir(t, 'searchtrack-poison-file-')
  const { app } = await buildAppWithTestRoute(t, db.url, { DATA_DIR: dataDir, SPOOL_RETRY_MS: '50' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  await db.stop()
  const post = (queryText: string, visitor: string) =>
    fetch(`${base}/test/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org: 'acme', visitors: [visitor], queryText }) })
  const ids: string[] = []
  for (const [q, v] of [['fine', 'a'], ['poison', 'b'], ['fine', 'c']] as const) {
    const r = await post(q, v)
    t.equal(r.status, 200, `${q}: acknowledged from the spool`)
    ids.push(...((await r.json()) as { eventIds: string[] }).eventIds)
  }
  await db.start()
  await until(() => app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')
  t.same(await notExactlyOnce(db.url, [ids[0]!, ids[2]!]), [], 'the others are stored')
  const file = await readFile(path.join(dataDir, 'quarantine', 'events.ndjson'), 'utf8')
  const [record] = file.trim().split('\n').map((l) => JSON.parse(l))
  t.equal(record.event.eventId, ids[1], 'the poison event is in the quarantine file')
  t.equal(record.sqlstate, '22023')
  t.match((await app.inject({ url: '/metrics' })).body, /^searchtrack_events_quarantined_total\{store="file"\} 1$/m)

  // The CLI's view lists it; once the cause is gone, a re-drive stores it and empties the file.
  t.same((await listQuarantine(app.db, path.join(dataDir, 'quarantine'))).map((r) => [r.eventId, r.store]), [[ids[1], 'file']])
  await sql(db.url, 'DROP TRIGGER refuse_poison ON events')
  const result = await redriveQuarantine(app.db, path.join(dataDir, 'quarantine'), 30)
  t.same(result.stored, [ids[1]])
  t.same(await notExactlyOnce(db.url, ids), [], 'now all three, once')
  t.equal((await readFile(path.join(dataDir, 'quarantine', 'events.ndjson'), 'utf8')).trim(), '', 'the file no longer holds it')
})
