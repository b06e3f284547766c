import t from 'tap'
import { CoveoSender, get, pastClock, reportsApp, round, sendHandMadeSet, settle } from './helpers.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/*
 * Query lists over whole UTC days read the query day tiles, and the rest of the range from facts;
 * visitors and the display form come from the facts of the page's rows. The oracle is the same
 * request answered from facts alone, once the days are no longer marked as summed.
 *  days 1-5 (UTC midnights), range [day 3 − 2 h, day 5 + 2 h): days 3 and 4 whole; previous period
 *  [day 1 − 4 h, day 3 − 2 h) holds day 1 (and day 2) whole.
 *  the hand-made set at day 3 10:00 and at day 4 10:00; "edge" at day 2 23:00 and day 5 01:00;
 *  "no count" (no result count) at day 3 16:00;
 *  "wifi": 12 user searches by 12 visitors in day 1, 2 in day 3 (trend (2 − 12) / √14).
 */
t.test('query lists from query day tiles equal the same lists from facts', async (t) => {
  const clock = pastClock(7, 0)
  const day1 = clock().getTime()
  const d = (n: number) => day1 + (n - 1) * DAY
  const r = await reportsApp(t, { clock })
  const s = new CoveoSender(r, d(1))
  for (let i = 0; i < 12; i++) await s.search({ at: HOUR + i * HOUR, visitor: `w${i}`, q: 'WiFi', uid: `w${i}` })
  await s.search({ at: 2 * DAY - HOUR, visitor: 've', q: 'edge', uid: 'e1', nr: 0 })
  await sendHandMadeSet(r, d(3) + 10 * HOUR)
  await new CoveoSender(r, d(3)).search({ at: 14 * HOUR, visitor: 'w1', q: 'wifi', uid: 'w20' })
  await new CoveoSender(r, d(3)).search({ at: 15 * HOUR, visitor: 'w2', q: 'wifi', uid: 'w21' })
  await new CoveoSender(r, d(3)).search({ at: 16 * HOUR, visitor: 'vn', q: 'no count', uid: 'n1', nr: null })
  await sendHandMadeSet(r, d(4) + 10 * HOUR)
  await new CoveoSender(r, d(5)).search({ at: HOUR, visitor: 've', q: 'edge', uid: 'e2', nr: 0 })
  r.clock.set(new Date(d(7)))
  await settle(r.app)
  const summed = await r.app.db.query(`SELECT DISTINCT day FROM report_query_days WHERE org_id = 'acme' ORDER BY day`)
  t.same(summed.rows.map((x) => x.day.getTime()), [d(1), d(2), d(3), d(4), d(5)], 'every ended day with searches has query day tiles')

  const range = `from=${new Date(d(3) - 2 * HOUR).toISOString()}&to=${new Date(d(5) + 2 * HOUR).toISOString()}`
  const views = ['', '&view=noResults', '&view=noClicks', '&view=lowCtr&minSearches=1', '&view=trending', '&bots=include', '&bots=only',
    '&includeEmpty=true', '&queryContains=PR', '&orderBy=ctr&direction=asc', '&orderBy=averageResponseTime', '&limit=2', '&compare=previous']
  const answers = async () => {
    const out: Record<string, unknown> = {}
    for (const v of views) {
      const res = await get(r, `/api/v1/queries?${range}${v}`)
      t.equal(res.status, 200, v)
      out[v] = res.body.data.rows
    }
    return out
  }
  const fromTiles = await answers()
  const top = fromTiles[''] as Array<Record<string, unknown>>
  t.match(top.find((x) => x.query === 'reset password'), { userSearches: 2, visitors: 1, display: 'Reset  Password', ctr: 1, averageClickRank: 2 }, 'two days of one visitor')
  t.match(top.find((x) => x.query === 'no count'), { userSearches: 1, noResultSearches: 0, noResultRate: null, avgResults: null }, 'a search without a result count')
  t.match(top.find((x) => x.query === 'edge'), { userSearches: 2, noResultSearches: 2, visitors: 1 }, 'the edges, read from facts')
  const wifi = (fromTiles['&view=trending'] as Array<Record<string, unknown>>).find((x) => x.query === 'wifi')
  t.match(wifi, { userSearches: 2, previousUserSearches: 12, trendScore: round(-10 / Math.sqrt(14)), visitors: 2, display: 'wifi' })

  // The days answer from their tiles: a figure changed in one shows.
  await r.app.db.query(`UPDATE report_query_days SET user_searches = user_searches + 1000 WHERE org_id = 'acme' AND q = 'vpn' AND day = $1`, [new Date(d(3))])
  const poisoned = (await get(r, `/api/v1/queries?${range}`)).body.data.rows as Array<Record<string, unknown>>
  t.equal(poisoned.find((x) => x.query === 'vpn')!.userSearches, 1002, 'day 3 is read from its query day tiles')
  await r.app.db.query(`UPDATE report_query_days SET user_searches = user_searches - 1000 WHERE org_id = 'acme' AND q = 'vpn' AND day = $1`, [new Date(d(3))])

  // The oracle: no day summed, every list from facts.
  await r.app.db.query(`DELETE FROM report_days WHERE org_id = 'acme'`)
  const fromFacts = await answers()
  for (const v of views) t.same(fromTiles[v], fromFacts[v], `the same rows from facts: ${v || 'top'}`)

  // Summed again (the build replaces what a day held), and still the same.
  await settle(r.app)
  t.same(await answers(), fromFacts, 'summed again: the same rows')
})
