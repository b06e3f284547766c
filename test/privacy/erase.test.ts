import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildAppWithTestRoute, ownPostgres, tempDir } from '../reliability/helpers.js'
import { until } from '../reliability/load.js'
import { createKey, listen, manualClock } from '../helpers/app.js'
import { HttpClient, halves } from '../inbenta/helpers.js'
import { resolveSubject, type SubjectSelector } from '../../src/privacy/subject.js'
import { eraseSubject } from '../../src/privacy/erase.js'
import { exportSubject } from '../../src/privacy/export.js'
import { Quarantine, QUARANTINE_FILE } from '../../src/store/quarantine.js'
import { newEvent } from '../../src/events/event.js'
import { scanDatabase, scanFiles } from './helpers.js'

const VISITOR_P = 'vis-ann-5c81e2'
const USER_P = 'ann.erasable@example.org'
const VISITOR_Q = 'vis-bob-77aa10'
const USER_Q = 'bob.kept@example.org'
const YEAR = 365 * 24 * 3600

async function coveo(app: FastifyInstance, token: string, visitor: string, uid: string): Promise<void> {
  const headers = { authorization: `Bearer ${token}` }
  const search = await app.inject({
    method: 'POST', url: `/rest/ua/v15/analytics/search?visitor=${visitor}`, headers,
    payload: { language: 'en', queryText: 'hello world', actionCause: 'searchboxSubmit', responseTime: 12, numberOfResults: 3, searchQueryUid: uid },
  })
  if (search.statusCode !== 200) throw new Error(`coveo search: ${search.statusCode} ${search.body}`)
  const click = await app.inject({
    method: 'POST', url: `/rest/ua/v15/analytics/click?visitor=${visitor}`, headers,
    payload: { language: 'en', actionCause: 'documentOpen', documentPosition: 1, sourceName: 'Docs', searchQueryUid: uid },
  })
  if (click.statusCode !== 200) throw new Error(`coveo click: ${click.statusCode} ${click.body}`)
}

async function appSearch(app: FastifyInstance, token: string, idempotencyKey: string): Promise<void> {
  const reply = await app.inject({
    method: 'POST', url: '/api/as/v1/engines/docs/click',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    payload: JSON.stringify({ query: 'pricing', document_id: 'doc-9' }),
  })
  if (reply.statusCode !== 200) throw new Error(`app search: ${reply.statusCode} ${reply.body}`)
}

/** An Inbenta session with the person's user info and a search; returns the session id. */
async function inbentaSession(base: string, keyId: string, secret: string, email: string): Promise<string> {
  const client = new HttpClient(base, keyId)
  if ((await client.auth(secret)).status !== 200) throw new Error('inbenta auth')
  const opened = await client.openSession()
  await client.request('POST', '/v1/tracking/session/user', { data: { email } })
  const search = await client.request('POST', '/v1/tracking/search', { query: 'reset my password', results: [{ id: 12, title: 'Reset a password' }] })
  if (search.status !== 200) throw new Error(`inbenta search: ${JSON.stringify(search.body)}`)
  return opened.body.sessionId as string
}

async function count(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  return (await pool.query<{ n: number }>(`SELECT (${sql})::int AS n`, params)).rows[0]!.n
}

async function maintenanceSettled(pool: pg.Pool): Promise<boolean> {
  return (
    (await count(pool, 'SELECT count(*) FROM report_inbox')) === 0 &&
    (await count(pool, 'SELECT count(*) FROM report_hours WHERE dirty_since IS NOT NULL')) === 0
  )
}

t.test('a person erased while some of their events wait in the outage spool: nothing of them is left anywhere, others are intact', async (t) => {
  const db = await ownPostgres(t)
  const dataDir = await tempDir(t, 'searchtrack-privacy-data-')
  const quarantineDir = path.join(dataDir, 'quarantine')
  const env = { DATA_DIR: dataDir, REPORTS_TILE_REBUILD_SECONDS: '0', REPORTS_IDLE_MS: '50', SPOOL_RETRY_MS: '50' }
  const clock = manualClock(new Date('2026-06-15T10:00:00.000Z'))
  const pool = new pg.Pool({ connectionString: db.url, max: 3 })
  // Idle connections are cut when the database stops: the pool replaces them.
  pool.on('error', () => {})
  t.teardown(() => pool.end())

  const { app: first } = await buildAppWithTestRoute(t, db.url, env, { clock })
  const key = await createKey(first, 'acme', ['analytics:push', 'analytics:read'])
  const adminKey = await createKey(first, 'acme', ['admin'])
  const tokenP = await first.auth.signSearchToken('acme', { userIds: [{ name: USER_P }] }, YEAR)
  const tokenQ = await first.auth.signSearchToken('acme', { userIds: [{ name: USER_Q }] }, YEAR)

  // June: Coveo UA, App Search (with an idempotency key), an Inbenta session each.
  await coveo(first, tokenP, VISITOR_P, '11111111-1111-4111-8111-111111111111')
  await coveo(first, tokenQ, VISITOR_Q, '22222222-2222-4222-8222-222222222222')
  await appSearch(first, tokenP, 'idem-ann-1')
  await appSearch(first, tokenQ, 'idem-bob-1')
  const base = await listen(first)
  const { keyId, secret } = halves(key)
  const sessionP = await inbentaSession(base, keyId, secret, USER_P)
  const sessionQ = await inbentaSession(base, keyId, secret, USER_Q)
  const inbentaVisitorP = (await pool.query<{ v: string }>('SELECT DISTINCT visitor_id AS v FROM events WHERE visit_id = $1', [sessionP])).rows[0]!.v
  const inbentaVisitorQ = (await pool.query<{ v: string }>('SELECT DISTINCT visitor_id AS v FROM events WHERE visit_id = $1', [sessionQ])).rows[0]!.v
  // July: a second monthly partition.
  clock.set(new Date('2026-07-10T09:00:00.000Z'))
  await coveo(first, tokenP, VISITOR_P, '33333333-3333-4333-8333-333333333333')
  await coveo(first, tokenQ, VISITOR_Q, '44444444-4444-4444-8444-444444444444')

  // Quarantined copies: one in the table, one in the file, for each of them.
  const quarantine = new Quarantine(pool, quarantineDir, first.log)
  for (const [visitorId, username] of [[VISITOR_P, USER_P], [VISITOR_Q, USER_Q]] as const) {
    await quarantine.add(newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId, username, queryText: 'refused' }, clock), new Error('refused for the test'))
  }
  await mkdir(quarantineDir, { recursive: true })
  const fileRecord = (visitorId: string, username: string) =>
    JSON.stringify({ quarantinedAt: clock().toISOString(), sqlstate: '22001', reason: 'test', event: newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId, username, queryText: 'file' }, clock) })
  await writeFile(path.join(quarantineDir, QUARANTINE_FILE), `${fileRecord(VISITOR_P, USER_P)}\n${fileRecord(VISITOR_Q, USER_Q)}\n`)

  const ofP = `org_id = 'acme' AND (visitor_id IN ('${VISITOR_P}', '${USER_P}', '${inbentaVisitorP}') OR username = '${USER_P}')`
  const ofQ = `org_id = 'acme' AND (visitor_id IN ('${VISITOR_Q}', '${USER_Q}', '${inbentaVisitorQ}') OR username = '${USER_Q}')`
  t.same(
    (await pool.query(`SELECT DISTINCT protocol FROM events WHERE ${ofP} ORDER BY 1`)).rows.map((r) => r.protocol),
    ['app-search', 'coveo', 'inbenta'],
    'the person has events in three protocols',
  )
  t.same(
    (await pool.query(`SELECT DISTINCT tableoid::regclass::text AS p FROM events WHERE ${ofP} ORDER BY 1`)).rows.map((r) => r.p),
    ['events_y2026m06', 'events_y2026m07'],
    'in two monthly partitions',
  )
  t.equal(await count(pool, `SELECT count(*) FROM idempotency_keys WHERE idempotency_key LIKE '%idem-ann-1'`), 1)
  await until(async () => (await count(pool, 'SELECT count(*) FROM report_inbox')) === 0, 'the report facts')
  t.ok((await count(pool, `SELECT count(*) FROM report_searches WHERE visitor_id = '${VISITOR_P}'`)) > 0, 'and in the report facts')
  const sessionActions = (session: string) => count(pool, 'SELECT count(*) FROM report_session_actions WHERE visit_id = $1', [session])
  t.equal(await sessionActions(sessionP), 3, 'and in the session action facts: their session\'s start, user info and search')
  t.equal(await sessionActions(sessionQ), 3)

  // The outage: both of them search again; the events are acknowledged from the spool, and the
  // service stops before the database returns, so they still wait there when the erasure comes.
  await db.stop()
  clock.advance(60_000)
  await coveo(first, tokenP, VISITOR_P, '55555555-5555-4555-8555-555555555555')
  await coveo(first, tokenQ, VISITOR_Q, '66666666-6666-4666-8666-666666666666')
  t.equal(first.writer.spoolStatus.state, 'spooling', 'the outage events went to the spool')
  // An erasure cannot be recorded now: refused, to be retried (the replay honours it either way).
  const refused = await first.inject({
    method: 'POST', url: '/api/v1/admin/orgs/acme/privacy/erase', headers: { authorization: `Bearer ${adminKey.key}` }, payload: { visitorId: VISITOR_P },
  })
  t.equal(refused.statusCode, 503, refused.body)
  t.ok(refused.headers['retry-after'])
  t.match(refused.json(), { message: String, type: 'Unavailable' })
  await first.close()
  t.ok((await scanFiles(path.join(dataDir, 'spool'), [VISITOR_P])).length > 0, 'the spool holds the person')
  await db.start()

  const qBefore = await count(pool, `SELECT count(*) FROM events WHERE ${ofQ}`)
  clock.advance(1000)
  const selectors: SubjectSelector[] = [{ inbentaSession: sessionP }, { visitorId: VISITOR_P }, { userName: USER_P }]
  const exported: Array<{ table?: string; row?: Record<string, unknown> }> = []
  const removed: Array<Record<string, number>> = []
  for (const selector of selectors) {
    const subject = await resolveSubject(pool, 'acme', selector)
    for await (const line of exportSubject(pool, subject, { quarantineDir })) exported.push(JSON.parse(line))
    removed.push(await eraseSubject(pool, subject, { now: clock(), quarantineDir }))
  }
  const exportedEvents = exported.filter((l) => l.table === 'events')
  t.same([...new Set(exportedEvents.map((l) => l.row!.protocol))].sort(), ['app-search', 'coveo', 'inbenta'], 'the export held their events of every protocol')
  t.ok(exported.some((l) => l.table === 'quarantine_file') && exported.some((l) => l.table === 'quarantined_events') && exported.some((l) => l.table === 'report_searches')
    && exported.some((l) => l.table === 'report_session_actions'))
  t.match(removed[0], { events: 3, visitors: 1, report_session_actions: 3 }, 'the Inbenta session: its start, user info and search')
  t.match(removed[1], { events: 4, visitors: 1, quarantined_events: 1, quarantine_file: 1 }, 'the visitor: two searches and two clicks')
  t.match(removed[2], { events: 1, idempotency_keys: 1 }, 'the user: the App Search click')

  // The service comes back and replays the spool: the person's spooled events are left out.
  const { app: second } = await buildAppWithTestRoute(t, db.url, env, { clock })
  await until(() => second.writer.spoolStatus.state === 'idle', 'the spool replay')
  t.equal(await count(pool, `SELECT count(*) FROM events WHERE ${ofQ}`), qBefore + 2, 'the other person\'s spooled search and click were stored')
  t.equal(await count(pool, `SELECT count(*) FROM events WHERE ${ofP}`), 0, 'none of the erased person\'s')

  await until(() => maintenanceSettled(pool), 'the report maintenance')
  const leftovers = await scanDatabase(pool, [VISITOR_P, USER_P, inbentaVisitorP, sessionP])
  t.same(leftovers, [], 'no column of any table holds their identifiers')
  t.same(await scanFiles(dataDir, [VISITOR_P, USER_P, inbentaVisitorP]), [], 'nor any file of the data directory (spool, quarantine)')
  t.ok((await scanFiles(dataDir, [VISITOR_Q])).length > 0, 'the other person\'s quarantined event is still in the file')
  t.equal(await count(pool, `SELECT count(*) FROM quarantined_events WHERE event->>'visitorId' = '${VISITOR_Q}'`), 1)

  // Reports count as if the person had never come: every fact is a remaining event, and the
  // rebuilt tiles count exactly those facts.
  const events = await count(pool, `SELECT count(*) FROM events WHERE org_id = 'acme'`)
  const facts = await count(pool, `SELECT (SELECT count(*) FROM report_searches) + (SELECT count(*) FROM report_clicks) + (SELECT count(*) FROM report_others)`)
  t.equal(facts, events, 'one fact per remaining event')
  t.equal(await count(pool, `SELECT coalesce(sum(facts), 0) FROM report_tiles WHERE org_id = 'acme'`), events, 'tiles count the remaining events only')
  t.ok(await count(pool, `SELECT count(*) FROM report_days WHERE org_id = 'acme'`) > 0, 'the ended day is summed')
  t.equal(await count(pool, `SELECT coalesce(sum(facts), 0) FROM report_day_tiles WHERE org_id = 'acme'`), events, 'and its day tiles count the remaining events only')
  t.equal(await count(pool, `SELECT coalesce(sum(search_events), 0) FROM report_query_days WHERE org_id = 'acme'`),
    await count(pool, `SELECT count(*) FROM report_searches WHERE org_id = 'acme'`), 'and its query day tiles the remaining searches')
  t.equal(await count(pool, `SELECT coalesce(sum(visits), 0) FROM report_visit_days WHERE org_id = 'acme'`),
    await count(pool, `SELECT count(*) FROM report_visits WHERE org_id = 'acme'`), 'and its visit day tiles the remaining visits')
  t.equal(await count(pool, `SELECT coalesce(sum(clicks), 0) FROM report_document_days WHERE org_id = 'acme'`),
    await count(pool, `SELECT count(*) FROM report_clicks WHERE org_id = 'acme' AND document IS NOT NULL`), 'its document day tiles the remaining clicks')
  t.equal(await count(pool, `SELECT coalesce(sum(searches), 0) FROM report_gap_days WHERE org_id = 'acme'`),
    await count(pool, `SELECT count(*) FROM report_searches WHERE org_id = 'acme' AND is_user AND nr = 0`), 'and its gap day tiles the remaining no-result searches')
  t.equal(await count(pool, `SELECT count(*) FROM report_visit_days, unnest(visitors) h WHERE org_id = 'acme' AND h = ANY(ARRAY[hashtextextended('${VISITOR_P}', 0), hashtextextended('${inbentaVisitorP}', 0)])`),
    0, 'whose visitors\' hashes are not theirs')
  t.equal(await count(pool, `SELECT count(*) FROM report_visits WHERE visitor_id = '${VISITOR_Q}'`), 2, 'the other person\'s visits are intact')
  t.equal(await sessionActions(sessionP), 0, 'none of their session actions is left')
  t.equal(await sessionActions(sessionQ), 3, 'the other person\'s session actions are intact')

  // Erasing again removes nothing more.
  for (const selector of selectors.slice(1)) {
    const again = await eraseSubject(pool, await resolveSubject(pool, 'acme', selector), { now: clock(), quarantineDir })
    t.same(Object.values(again).filter((n) => n > 0), [], `erasing ${Object.keys(selector)[0]} again removes nothing`)
  }

  // The person comes back after the erasure: new events are stored as usual.
  clock.advance(1000)
  await coveo(second, tokenP, VISITOR_P, '77777777-7777-4777-8777-777777777777')
  await until(async () => (await count(pool, `SELECT count(*) FROM events WHERE ${ofP}`)) === 2, 'the new events')
  t.pass('events received after the erasure are stored')
})
