import t from 'tap'
import { CoveoSender, get, pastClock, reportsApp, settle } from './helpers.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/*
 * Visit figures of clean whole UTC days come from visit day tiles (the visits begun that day, with
 * their visitors' hashes); the rest of a range, and visits begun the day before that go on into
 * it, from visit rows. The oracle is the same request once no day is marked as summed.
 *  day 0 (UTC midnight D): visitor a, visits at 10:00 (search, click) and 15:00 (search);
 *   visitor b, a visit from 23:50 going on to 00:05 of day 1 (two searches);
 *   visitor c, a visit from 23:40 of day −1 going on to 00:10 of day 0; a bot's visit at 12:00.
 *  day 1: visitor d at 12:00 (search, click).
 * Range [D, D + 2 days): visits a, a, b, c, d = 5, all with a search, 2 of them with a click;
 *  visitors 4; 7 searches in visits (c's two included).
 */
t.test('visit figures of whole days come from visit day tiles, equal to visit rows, and follow a visit going on past midnight', async (t) => {
  const clock = pastClock(4, 0)
  const d = clock().getTime()
  const r = await reportsApp(t, { clock })
  const s = new CoveoSender(r, d)
  await s.search({ at: -20 * MINUTE, visitor: 'c', q: 'late night', uid: 'c1' })
  await s.search({ at: 10 * MINUTE, visitor: 'c', q: 'later night', uid: 'c2' })
  await s.search({ at: 10 * HOUR, visitor: 'a', q: 'vpn', uid: 'a1' })
  await s.click({ at: 10 * HOUR + MINUTE, visitor: 'a', uid: 'a1', position: 1, doc: 'kb1' })
  await s.search({ at: 12 * HOUR, visitor: 'bot', q: 'crawl', uid: 'x1', bot: true })
  await s.search({ at: 15 * HOUR, visitor: 'a', q: 'printer', uid: 'a2' })
  await s.search({ at: 23 * HOUR + 50 * MINUTE, visitor: 'b', q: 'mail', uid: 'b1' })
  await s.search({ at: DAY + 5 * MINUTE, visitor: 'b', q: 'mail setup', uid: 'b2' })
  await s.search({ at: DAY + 12 * HOUR, visitor: 'd', q: 'wifi', uid: 'd1' })
  await s.click({ at: DAY + 12 * HOUR + MINUTE, visitor: 'd', uid: 'd1', position: 2, doc: 'kb2' })
  r.clock.set(new Date(d + 3 * DAY))
  await settle(r.app)
  const summed = await r.app.db.query(`SELECT day, is_bot, visits FROM report_visit_days WHERE org_id = 'acme' ORDER BY day, is_bot`)
  t.same(summed.rows.map((x) => [x.day.getTime() - d, x.is_bot, x.visits]), [[-DAY, false, 1], [0, false, 3], [0, true, 1], [DAY, false, 1]],
    'each visit in the day of its first event')

  const metrics = 'visits,visitors,visitClickThrough,searchesPerVisit'
  const ranges = {
    'two whole days': `from=${new Date(d).toISOString()}&to=${new Date(d + 2 * DAY).toISOString()}`,
    'a whole day and hours around it': `from=${new Date(d - 2 * HOUR).toISOString()}&to=${new Date(d + DAY + 3 * HOUR).toISOString()}`,
    'daily points': `from=${new Date(d - DAY).toISOString()}&to=${new Date(d + 2 * DAY).toISOString()}&interval=day`,
  }
  const answers = async (bots = '') => {
    const out: Record<string, unknown> = {}
    for (const [name, range] of Object.entries(ranges)) {
      const path = name === 'daily points' ? `/api/v1/timeseries?${range}&metrics=${metrics}${bots}` : `/api/v1/overview?${range}&metrics=${metrics}&compare=none${bots}`
      const res = await get(r, path)
      t.equal(res.status, 200, name)
      out[name] = name === 'daily points' ? res.body.data.points : Object.fromEntries(Object.entries(res.body.data).map(([k, v]) => [k, (v as { value: unknown }).value]))
    }
    return out
  }
  const fromDays = await answers()
  t.same(fromDays['two whole days'], { visits: 5, visitors: 4, visitClickThrough: 0.4, searchesPerVisit: 1.4 }, 'worked out by hand')
  const fromDaysWithBots = await answers('&bots=include')

  // The oracle: no day summed, every figure from visit rows.
  const days = (await r.app.db.query(`SELECT org_id, day, built_at FROM report_days`)).rows
  await r.app.db.query(`DELETE FROM report_days`)
  t.same(await answers(), fromDays, 'visit day tiles answer as the visit rows do')
  t.same(await answers('&bots=include'), fromDaysWithBots, 'bots included, likewise')
  for (const x of days) await r.app.db.query(`INSERT INTO report_days (org_id, day, built_at) VALUES ($1, $2, $3)`, [x.org_id, x.day, x.built_at])

  // Proof that the tiles answer: figures changed in day 0's tile show.
  await r.app.db.query(`UPDATE report_visit_days SET visits = visits + 100, visitors = visitors || hashtextextended('ghost', 0)
    WHERE org_id = 'acme' AND day = $1 AND NOT is_bot`, [new Date(d)])
  t.match((await answers())['two whole days'], { visits: 105, visitors: 5 }, 'day 0 is read from its visit day tile')
  await r.app.db.query(`UPDATE report_visit_days SET visits = visits - 100, visitors = visitors[1:array_length(visitors, 1) - 1]
    WHERE org_id = 'acme' AND day = $1 AND NOT is_bot`, [new Date(d)])
  t.same(await answers(), fromDays, 'restored')

  // b's visit, begun on day 0, goes on with a search at 00:20 of day 1: day 0's tile no longer holds
  // it as it is, so day 0 is read from visit rows until summed again.
  await s.search({ at: DAY + 20 * MINUTE, visitor: 'b', q: 'mail server', uid: 'b3' })
  r.clock.set(new Date(d + 3 * DAY))
  await settle(r.app, false)
  const expected = { visits: 5, visitors: 4, visitClickThrough: 0.4, searchesPerVisit: 1.6 }
  t.same((await answers())['two whole days'], expected, 'fresh at once')
  await settle(r.app, true)
  t.same((await answers())['two whole days'], expected, 'day 0 summed again')
  const b = await r.app.db.query(`SELECT searches_in_visits FROM report_visit_days WHERE org_id = 'acme' AND day = $1 AND NOT is_bot`, [new Date(d)])
  t.equal(b.rows[0].searches_in_visits, '5', 'the new tile holds a\'s two searches and b\'s three')
})
