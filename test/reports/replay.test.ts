import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import type { TrackedEvent } from '../../src/events/event.js'
import { EVENT_COLUMNS } from '../../src/store/event-rows.js'
import { Spool } from '../../src/store/spool.js'
import { rebuildOrg } from '../../src/reports/maintenance/rebuild.js'
import { createTestDatabase } from '../helpers/db.js'
import { manualClock } from '../helpers/app.js'
import { CoveoSender, get, HAND_MADE, pastClock, reportsApp, sendHandMadeSet, settle, type ReportsApp } from './helpers.js'

const camel = (column: string) => column.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())

/** The stored events of an org, as the writer holds them (what a spool keeps). */
async function storedEvents(app: FastifyInstance, orgId: string): Promise<TrackedEvent[]> {
  const { rows } = await app.db.query(`SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE org_id = $1 ORDER BY received_at, event_id`, [orgId])
  return rows.map((row) => Object.fromEntries(EVENT_COLUMNS.map((c) => [camel(c), c === 'visit_id' || c === 'event_id' ? row[c] : row[c]])) as unknown as TrackedEvent)
}

async function figures(r: ReportsApp, base: number) {
  const from = new Date(base - 3_600_000).toISOString()
  const to = new Date(base + 3_600_000).toISOString()
  const res = await get(r, `/api/v1/overview?from=${from}&to=${to}&metrics=${Object.keys(HAND_MADE).join(',')}&compare=none`)
  return Object.fromEntries(Object.entries(res.body.data).map(([k, v]) => [k, (v as { value: unknown }).value]))
}

/** The derived rows of an org, comparable across a rebuild. */
async function derived(app: FastifyInstance) {
  const out: Record<string, unknown[]> = {}
  for (const [table, key] of [['report_searches', 'event_id'], ['report_clicks', 'event_id'], ['report_others', 'event_id'], ['report_visits', 'visit_id']]) {
    out[table!] = (await app.db.query(`SELECT * FROM ${table} WHERE org_id = 'acme' ORDER BY ${key}`)).rows
  }
  out.report_tiles = (await app.db.query(`SELECT * FROM report_tiles WHERE org_id = 'acme' ORDER BY hour, hub, tab, language, device, protocol, cause_class, has_results, is_bot`)).rows
  return out
}

t.test('an outage replayed from the spool with old receipt times gives the same figures, equal to a full rebuild', async (t) => {
  // The events of the hand-made set, as acknowledged by a first instance.
  const source = await reportsApp(t)
  const base = source.clock().getTime()
  await sendHandMadeSet(source, base)
  const events = await storedEvents(source.app, 'acme')
  t.equal(events.length, 17)

  // A second database already has this hour rolled up (one live search), then an instance starts
  // with a spool written during an outage minutes ago: it replays the events with their times.
  const databaseUrl = await createTestDatabase(t)
  const clock = manualClock(new Date(base + 2 * 3_600_000))
  const first = await reportsApp(t, { databaseUrl, clock })
  await new CoveoSender(first, base).search({ at: 30 * 60_000, visitor: 'live', q: 'live', uid: 'live', bot: true })
  clock.set(new Date(base + 2 * 3_600_000))
  await settle(first.app)
  await first.app.close()

  const dir = await mkdtemp(path.join(tmpdir(), 'searchtrack-spool-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const spool = await Spool.open({ dir: path.join(dir, 'spool'), maxBytes: 1 << 24, segmentBytes: 1 << 20, log: pino({ level: 'silent' }) })
  await spool.append(events.slice(0, 10))
  await spool.append(events.slice(10))
  await spool.close()

  const second = await reportsApp(t, { databaseUrl, clock, org: 'acme-readers', env: { DATA_DIR: dir } })
  second.read = first.read
  const replayed = async () => (await second.app.db.query(`SELECT count(*)::int AS n FROM events WHERE org_id = 'acme'`)).rows[0].n === 18
  const deadline = Date.now() + 120_000
  while (!(await replayed())) {
    if (Date.now() > deadline) throw new Error('the spool was not replayed')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await settle(second.app, false)
  t.same(await figures(second, base), HAND_MADE, 'facts: the replayed hour has its figures')
  await settle(second.app, true)
  t.same(await figures(second, base), HAND_MADE, 'tiles rebuilt: the same')

  const incremental = await derived(second.app)
  await rebuildOrg(second.app.db, 'acme')
  await settle(second.app, true)
  t.same(await derived(second.app), incremental, 'incremental maintenance equals a full rebuild')
})

t.test('two instances on one database: one maintains, both answer the same figures', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const clock = pastClock()
  const a = await reportsApp(t, { databaseUrl, clock, env: { REPORTS_IDLE_MS: '50' } })
  const b = await reportsApp(t, { databaseUrl, clock, org: 'other', env: { REPORTS_IDLE_MS: '50' } })
  b.push = a.push
  b.read = a.read
  const base = clock().getTime()
  // Every other event through the other instance.
  const both = { ...a, app: a.app } as ReportsApp
  let n = 0
  type InjectOptions = import('light-my-request').InjectOptions
  const alternate = (o: InjectOptions) => (n++ % 2 === 0 ? a.app.inject(o) : b.app.inject(o))
  both.app = new Proxy(a.app, { get: (target, prop) => (prop === 'inject' ? alternate : Reflect.get(target, prop)) })
  await sendHandMadeSet(both, base)
  t.equal(n, 17)
  const holders = [a, b].filter((x) => x.app.reports.maintenance!.holdsLease)
  // The first loop step of each worker has run by now or soon: wait for one of them to hold the lease.
  for (let i = 0; holders.length === 0 && i < 1000; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    holders.push(...[a, b].filter((x) => x.app.reports.maintenance!.holdsLease))
  }
  t.equal(new Set(holders).size, 1, 'exactly one instance holds the maintenance lease')
  const holder = holders[0]!
  const other = holder === a ? b : a
  t.equal(await other.app.reports.maintenance!.drain(), false, 'the other one does not maintain')
  await settle(holder.app)
  t.same(await figures(a, base), HAND_MADE, 'figures through the first instance')
  t.same(await figures(b, base), HAND_MADE, 'and through the second')
})

t.test('searches outside any visit: chains of one, clicked by a click that comes a chunk later, equal to a full rebuild', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  // Events with no visitor (as App Search or Inbenta log outside a session), stored as the writer would.
  const insert = (id: string, at: number, type: string, fields: Record<string, unknown>) => {
    const columns = ['org_id', 'event_id', 'received_at', 'protocol', 'type', ...Object.keys(fields)]
    const values = ['acme', id, new Date(base + at), 'coveo', type, ...Object.values(fields)]
    return r.app.db.query(
      `WITH e AS (INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING org_id, event_id, received_at)
       INSERT INTO report_inbox SELECT * FROM e`, values)
  }
  const search = (id: string, at: number, q: string, uid: string, cause: string) =>
    insert(id, at, 'search', { query_text: q, search_query_uid: uid, action_cause: cause, number_of_results: 3, language: 'en' })
  await search('00000000-0000-4000-8000-000000000001', 0, 'vpn', 'n1', 'searchboxSubmit')
  await search('00000000-0000-4000-8000-000000000002', 1_000, 'v', 'n2', 'searchboxAsYouType')
  await search('00000000-0000-4000-8000-000000000003', 2_000, 'printer', 'n3', 'facetSelect')
  await settle(r.app)
  const state = async () => (await r.app.db.query(
    `SELECT s.uid, s.visit_id, s.clicks, s.partial, s.is_user, s.chain_clicked, s.abandoned, s.reformulated, s.next_q
     FROM report_searches s WHERE s.org_id = 'acme' ORDER BY s.uid`)).rows
  const none = { visit_id: null, partial: false, abandoned: false, reformulated: false, next_q: null }
  t.same(await state(), [
    { uid: 'n1', clicks: 0, is_user: true, chain_clicked: false, ...none },
    { uid: 'n2', clicks: 0, is_user: true, chain_clicked: false, ...none },
    { uid: 'n3', clicks: 0, is_user: false, chain_clicked: false, ...none },
  ], 'user searches by class, none partial (no visit to follow them), none abandoned')

  await insert('00000000-0000-4000-8000-000000000004', 30_000, 'click', { search_query_uid: 'n1', document_position: 1, document_id: 'kb-1' })
  await settle(r.app)
  const after = await state()
  t.match(after[0], { uid: 'n1', clicks: 1, chain_clicked: true, abandoned: false }, 'the late click marks its chain clicked')
  t.match(after[1], { uid: 'n2', clicks: 0, chain_clicked: false })

  const before = await derived(r.app)
  await rebuildOrg(r.app.db, 'acme')
  await settle(r.app)
  t.same(await derived(r.app), before, 'a full rebuild derives the same rows')
})
