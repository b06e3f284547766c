import t from 'tap'
import { halves, inject } from '../inbenta/helpers.js'
import { createKey } from '../helpers/app.js'
import { DataKeyStore } from '../../src/protocols/inbenta/priorities.js'
import { summarizeResults } from '../../src/protocols/inbenta/reports.js'
import { rebuildOrg } from '../../src/reports/maintenance/rebuild.js'
import { get, reportsApp, settle } from './helpers.js'

const MIN = 60_000

/*
 * Inbenta sessions built by hand through the tracking routes, at minutes from `base` (10:00 UTC,
 * three days ago), with the default priorities (CONTACT_TICKET 1, CONTACT_START 3, CLICK_MATCH and
 * INSTANT_CLICK 5, SEARCH 9, START 11, USER_INFO 0):
 *  A  −10 START, −9 SEARCH, −5 CONTACT_TICKET, +5 CLICK_MATCH      (straddles 10:00)
 *  B  +10 START, +11 SEARCH, +12 CONTACT_START, +13 CONTACT_TICKET
 *  C  −2 START, +2 USER_INFO                                         (nothing prioritized after 10:00)
 *  D  +20 START, +21 SEARCH, +22 CONTACT_START, stored again at +22 min 1 s and at +40
 *  E  +30 START, +31 SEARCH, +32 INSTANT_CLICK, +33 CLICK_MATCH      (a tie of priority 5: the earlier)
 */
t.test('deflection reads Inbenta session results from their facts: the same summaries as the raw events, by hand', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  const key = await createKey(r.app, 'acme', ['analytics:push', 'analytics:read'])
  const { keyId, secret } = halves(key)
  const at = (minutes: number) => r.clock.set(new Date(base + minutes * MIN))
  at(-15)
  const auth = await inject(r.app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': keyId }, body: { secret } })
  const headers = { 'x-inbenta-key': keyId, authorization: `Bearer ${auth.body.accessToken}`, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36' }

  type Step = [minutes: number, action: string]
  const session = async (steps: Step[]): Promise<string> => {
    let h: Record<string, string> = headers
    let id = ''
    let clickCode = ''
    for (const [minutes, action] of steps) {
      at(minutes)
      let res
      if (action === 'START') {
        res = await inject(r.app, 'POST', '/v1/tracking/session', { headers })
        h = { ...headers, 'x-inbenta-session': res.body.sessionToken }
        id = res.body.sessionId
      } else if (action === 'SEARCH') {
        res = await inject(r.app, 'POST', '/v1/tracking/search', { headers: h, body: { query: 'reset my password', results: [{ id: 'kb-7', title: 'Reset' }] } })
        clickCode = res.body.results[0].tracking.clickCode
      } else if (action === 'USER_INFO') {
        res = await inject(r.app, 'POST', '/v1/tracking/session/user', { headers: h, body: { data: { email: 'someone@example.org' } } })
      } else if (action === 'click' || action === 'instant_click') {
        res = await inject(r.app, 'POST', '/v1/tracking/events', { headers: h, body: { type: action, data: { code: clickCode } } })
      } else {
        res = await inject(r.app, 'POST', '/v1/tracking/events', { headers: h, body: { type: action, data: {} } })
      }
      if (res.status !== 200) throw new Error(`${action}: ${res.status} ${JSON.stringify(res.body)}`)
    }
    return id
  }
  const a = await session([[-10, 'START'], [-9, 'SEARCH'], [-5, 'CONTACT_TICKET'], [5, 'click']])
  const b = await session([[10, 'START'], [11, 'SEARCH'], [12, 'CONTACT_START'], [13, 'CONTACT_TICKET']])
  const c = await session([[-2, 'START'], [2, 'USER_INFO']])
  const d = await session([[20, 'START'], [21, 'SEARCH'], [22, 'CONTACT_START']])
  const e = await session([[30, 'START'], [31, 'SEARCH'], [32, 'instant_click'], [33, 'click']])
  t.equal(new Set([a, b, c, d, e]).size, 5, 'five sessions')

  // D's CONTACT_START stored again under its id with another receipt time (a replay of a copy):
  // once in the same chunk as the original, once in a later one. Facts keep the first copy.
  const { rows: [original] } = await r.app.db.query<{ event_id: string }>(
    `SELECT event_id::text FROM events WHERE visit_id = $1 AND extra->>'dataKey' = 'CONTACT_START'`, [d])
  const storeCopy = (minutes: number) => r.app.db.query(
    `WITH ins AS (
       INSERT INTO events SELECT (jsonb_populate_record(NULL::events, to_jsonb(e) || jsonb_build_object('received_at', $2::timestamptz))).*
       FROM (SELECT * FROM events WHERE org_id = 'acme' AND event_id = $1 ORDER BY received_at LIMIT 1) e
       RETURNING org_id, event_id, received_at
     ) INSERT INTO report_inbox SELECT * FROM ins`, [original!.event_id, new Date(base + minutes * MIN)])
  await storeCopy(22 + 1 / 60)
  at(120)
  await settle(r.app)
  await storeCopy(40)
  // And every key of D queued again, as a re-derivation does.
  await r.app.db.query(`INSERT INTO report_inbox SELECT org_id, event_id, received_at FROM events WHERE visit_id = $1`, [d])
  at(180)
  await settle(r.app)

  const { rows: stored } = await r.app.db.query(
    `SELECT received_at FROM report_session_actions WHERE org_id = 'acme' AND event_id = $1`, [original!.event_id])
  t.same(stored.map((x) => (x.received_at as Date).getTime()), [base + 22 * MIN], 'one fact for the duplicated event, at its first receipt')
  t.equal((await r.app.db.query(`SELECT 1 FROM report_duplicates WHERE org_id = 'acme' AND event_id = $1`, [original!.event_id])).rowCount, 2,
    'both later copies recorded as duplicates')
  const counts = await r.app.db.query<{ visit_id: string; n: number }>(
    `SELECT visit_id::text, count(*)::int AS n FROM report_session_actions WHERE org_id = 'acme' GROUP BY visit_id`)
  t.same(Object.fromEntries(counts.rows.map((x) => [x.visit_id, x.n])), { [a]: 4, [b]: 4, [c]: 2, [d]: 3, [e]: 4 },
    'one fact per action: searches, clicks and session events alike')

  const priorities = await new DataKeyStore(r.app.db).priorities('acme')
  const iso = (minutes: number) => new Date(base + minutes * MIN).toISOString()
  const deflection = async (from: number, to: number) =>
    (await get(r, `/api/v1/deflection?from=${iso(from)}&to=${iso(to)}`)).body.data.sessions
  const raw = async (from: number, to: number) => {
    const range = [new Date(base + from * MIN), new Date(base + to * MIN)] as const
    const all = await summarizeResults(r.app.db, 'acme', ...range, priorities)
    const contact = await summarizeResults(r.app.db, 'acme', ...range, priorities, { sessionsWithDataKeyPrefix: 'CONTACT_' })
    const tickets = contact.results.find((x) => x.dataKey === 'CONTACT_TICKET')?.sessions ?? 0
    return {
      total: all.sessions, contact: contact.sessions,
      sessionDeflectionRate: contact.sessions > 0 ? Math.round(((contact.sessions - tickets) / contact.sessions) * 1e6) / 1e6 : null,
      withoutResult: all.withoutResult, results: all.results,
    }
  }
  const res = (dataKey: string, priority: number, sessions: number) => ({ dataKey, priority, sessions })
  const expected: Array<[string, number, number, unknown]> = [
    // A's click only (its ticket is before the range), B's ticket, C without a result, D's
    // contact start, E's instant click (earlier than its click of the same priority).
    ['10:00–12:00', 0, 120, {
      total: 5, contact: 2, sessionDeflectionRate: 0.5, withoutResult: 1,
      results: [res('CONTACT_TICKET', 1, 1), res('CONTACT_START', 3, 1), res('CLICK_MATCH', 5, 1), res('INSTANT_CLICK', 5, 1)],
    }],
    // A whole: its ticket; C: its START.
    ['09:00–12:00', -60, 120, {
      total: 5, contact: 3, sessionDeflectionRate: 0.333333, withoutResult: 0,
      results: [res('CONTACT_TICKET', 1, 2), res('CONTACT_START', 3, 1), res('INSTANT_CLICK', 5, 1), res('START', 11, 1)],
    }],
    ['09:00–10:00', -60, 0, { total: 2, contact: 1, sessionDeflectionRate: 0, withoutResult: 0, results: [res('CONTACT_TICKET', 1, 1), res('START', 11, 1)] }],
    // E's click alone.
    ['10:32:30–10:35', 32.5, 35, { total: 1, contact: 0, sessionDeflectionRate: null, withoutResult: 0, results: [res('CLICK_MATCH', 5, 1)] }],
    // C's USER_INFO (priority 0) and A's click.
    ['10:00–10:06', 0, 6, { total: 2, contact: 0, sessionDeflectionRate: null, withoutResult: 1, results: [res('CLICK_MATCH', 5, 1)] }],
    ['13:00–14:00', 180, 240, { total: 0, contact: 0, sessionDeflectionRate: null, withoutResult: 0, results: [] }],
  ]
  for (const [name, from, to, figures] of expected) {
    t.same(await deflection(from, to), figures, `${name}: the deflection report's figures, by hand`)
    t.same(await raw(from, to), figures, `${name}: the same as summarizing the raw events`)
  }
  // Where they part: the raw events hold D's later copy at 10:40, the facts only its first receipt.
  t.equal((await raw(35, 45)).total, 1, 'the raw events count the copy received at 10:40')
  t.equal((await deflection(35, 45)).total, 0, 'the facts count an event id once, at its first receipt (as every fact)')

  // The report reads the facts: without B's ticket fact, B ends on its contact start.
  const before = (await r.app.db.query(`SELECT * FROM report_session_actions WHERE org_id = 'acme' ORDER BY event_id`)).rows
  await r.app.db.query(`DELETE FROM report_session_actions WHERE org_id = 'acme' AND visit_id = $1 AND data_key = 'CONTACT_TICKET'`, [b])
  t.same(await deflection(0, 120), {
    total: 5, contact: 2, sessionDeflectionRate: 1, withoutResult: 1,
    results: [res('CONTACT_START', 3, 2), res('CLICK_MATCH', 5, 1), res('INSTANT_CLICK', 5, 1)],
  }, 'a deleted fact changes the answer')

  // A rebuild derives every action again, the same rows as the incremental maintenance.
  await rebuildOrg(r.app.db, 'acme')
  t.equal((await r.app.db.query(`SELECT 1 FROM report_session_actions WHERE org_id = 'acme'`)).rowCount, 0, 'a rebuild deletes them')
  await settle(r.app)
  t.same((await r.app.db.query(`SELECT * FROM report_session_actions WHERE org_id = 'acme' ORDER BY event_id`)).rows, before,
    'and derives the same rows again')
  t.same(await deflection(0, 120), expected[0]![3], 'the figures are back')
})
