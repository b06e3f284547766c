import t from 'tap'
import { CoveoSender, get, pastClock, reportsApp, sendHandMadeSet, settle } from './helpers.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/*
 * The documents and content-gaps reports over whole UTC days read document and content-gap day
 * tiles, and the rest of the range from facts; what is not a sum (the searches leading to a
 * document, its title, a gap's visitors) comes from the facts of the page's rows. The oracle is
 * the same request answered from facts alone, once the days are no longer marked as summed.
 *  days 1-5 (UTC midnights), range [day 3 − 2 h, day 5 + 2 h): days 3 and 4 whole.
 *  the hand-made set at day 3 10:00 and at day 4 10:00: kb-1 (rank 2), kb-2 (rank 1), kb-3
 *  (rank 3) clicked once each per day, ws-1 (Workplace rank 0, position 1) with feedback +1 and −1; "vpn" without
 *  results, rescued by "remote access"; "printer driver" without results.
 *  edges, read from facts: "edge" searched and kb-1 clicked at rank 5 at day 2 23:00 and day 5
 *  01:00; "gone" without results at both times, by one visitor.
 *  a bot: kb-9 clicked at day 3 12:00, "robots" without results at day 4 12:00.
 *  outside the range: kb-1 at day 1, "gone" at day 1.
 */
t.test('documents and content gaps from day tiles equal the same reports from facts', async (t) => {
  const clock = pastClock(7, 0)
  const day1 = clock().getTime()
  const d = (n: number) => day1 + (n - 1) * DAY
  const r = await reportsApp(t, { clock })
  const outside = new CoveoSender(r, d(1))
  await outside.search({ at: 5 * HOUR, visitor: 'vo', q: 'old', uid: 'o1' })
  await outside.click({ at: 5 * HOUR + 1000, visitor: 'vo', uid: 'o1', position: 1, doc: 'kb-1' })
  await outside.search({ at: 6 * HOUR, visitor: 'vg', q: 'gone', uid: 'g0', nr: 0 })
  for (const [n, at] of [[2, 23 * HOUR], [5, HOUR]] as const) {
    const s = new CoveoSender(r, d(n))
    await s.search({ at, visitor: 've', q: 'edge', uid: `e${n}` })
    await s.click({ at: at + 60_000, visitor: 've', uid: `e${n}`, position: 5, doc: 'kb-1' })
    await s.search({ at: at + 120_000, visitor: 'vg', q: 'gone', uid: `g${n}`, nr: 0 })
  }
  await sendHandMadeSet(r, d(3) + 10 * HOUR)
  await sendHandMadeSet(r, d(4) + 10 * HOUR)
  const bot = new CoveoSender(r, d(3))
  await bot.search({ at: 12 * HOUR, visitor: 'vr', q: 'crawl', uid: 'b1', bot: true })
  await bot.click({ at: 12 * HOUR + 1000, visitor: 'vr', uid: 'b1', position: 4, doc: 'kb-9', bot: true })
  await new CoveoSender(r, d(4)).search({ at: 12 * HOUR, visitor: 'vr', q: 'robots', uid: 'b2', nr: 0, bot: true })
  r.clock.set(new Date(d(7)))
  await settle(r.app)
  const summed = await r.app.db.query(`SELECT DISTINCT day FROM report_document_days WHERE org_id = 'acme' ORDER BY day`)
  t.same(summed.rows.map((x) => x.day.getTime()), [d(1), d(2), d(3), d(4), d(5)], 'every ended day with clicks has document day tiles')
  const gapDays = await r.app.db.query(`SELECT DISTINCT day FROM report_gap_days WHERE org_id = 'acme' ORDER BY day`)
  t.same(gapDays.rows.map((x) => x.day.getTime()), [d(1), d(2), d(3), d(4), d(5)], 'every ended day with no-result searches has gap day tiles')

  const range = `from=${new Date(d(3) - 2 * HOUR).toISOString()}&to=${new Date(d(5) + 2 * HOUR).toISOString()}`
  const urls = [
    ...['', '&view=foundLate&minClicks=1', '&view=foundLate&minClicks=5', '&view=negativeFeedback', '&bots=include', '&bots=only', '&limit=2',
      '&f=' + encodeURIComponent("hub == 'Support'")].map((v) => `/api/v1/documents?${range}${v}`),
    `/api/v1/documents/detail?${range}&document=kb-1`,
    `/api/v1/documents/detail?${range}&document=ws-1`,
    ...['', '&minSearches=1', '&minSearches=3', '&minSearches=1&bots=include', '&minSearches=1&bots=only', '&minSearches=1&limit=1', '&f=' + encodeURIComponent("language == 'en'")]
      .map((v) => `/api/v1/content-gaps?${range}${v}`),
  ]
  const answers = async () => {
    const out: Record<string, unknown> = {}
    for (const url of urls) {
      const res = await get(r, url)
      t.equal(res.status, 200, url)
      out[url] = res.body.data
    }
    return out
  }
  const fromTiles = await answers()
  const docs = (fromTiles[urls[0]!] as { rows: Array<Record<string, unknown>> }).rows
  t.same(docs.map((x) => [x.document, x.clicks, x.searchesLeading, x.averagePosition]), [
    ['kb-1', 4, 4, 3.5], ['kb-2', 2, 2, 1], ['kb-3', 2, 2, 3], ['ws-1', 2, 0, 1],
  ], 'clicks and rank summed over two tiled days and two edges; the searches leading to each, from facts')
  t.match(docs[0], { title: 'Title kb-1', url: 'https://kb.example.com/kb-1', source: 'kb', positive: 0, negative: 0, feedbackPositiveRate: null })
  t.match(docs[3], { positive: 2, negative: 2, feedbackPositiveRate: 0.5 })
  const late = (fromTiles[urls[1]!] as { rows: Array<Record<string, unknown>> }).rows
  t.same(late.map((x) => x.document), ['kb-1'], 'found late: an average rank above 3 (kb-3 is at 3)')
  t.same((fromTiles[urls[2]!] as { rows: unknown[] }).rows, [], 'found late needs its minimum of clicks')
  t.same((fromTiles[urls[5]!] as { rows: Array<Record<string, unknown>> }).rows.map((x) => [x.document, x.clicks, x.averagePosition]), [['kb-9', 1, 4]], 'bots only')

  const gaps = fromTiles[urls[10]!] as { clusters: Array<Record<string, unknown>>; rescues: unknown[] }
  t.same(gaps.clusters.map((c) => [c.key, c.noResultSearches, c.visitors]), [['driver printer', 2, 1], ['gone', 2, 1], ['vpn', 2, 1]])
  t.same(gaps.clusters[1]!.queries, [{ query: 'gone', searches: 2 }])
  t.same(gaps.rescues, [{ failedQuery: 'vpn', rescueQuery: 'remote access', count: 2, share: 1 }])
  t.same((fromTiles[urls[14]!] as { clusters: Array<Record<string, unknown>> }).clusters.map((c) => [c.key, c.noResultSearches]), [['robot', 1]], 'bots only (the gap key is stemmed)')

  // The days answer from their tiles: a figure changed in one shows.
  await r.app.db.query(`UPDATE report_document_days SET clicks = clicks + 1000 WHERE org_id = 'acme' AND document = 'kb-2' AND day = $1`, [new Date(d(3))])
  await r.app.db.query(`UPDATE report_gap_days SET searches = searches + 1000 WHERE org_id = 'acme' AND q = 'vpn' AND day = $1`, [new Date(d(4))])
  t.equal((await get(r, urls[0]!)).body.data.rows[0].clicks, 1002, 'day 3 is read from its document day tiles')
  t.match((await get(r, urls[10]!)).body.data.clusters[0], { key: 'vpn', noResultSearches: 1002 }, 'day 4 is read from its gap day tiles')
  await r.app.db.query(`UPDATE report_document_days SET clicks = clicks - 1000 WHERE org_id = 'acme' AND document = 'kb-2' AND day = $1`, [new Date(d(3))])
  await r.app.db.query(`UPDATE report_gap_days SET searches = searches - 1000 WHERE org_id = 'acme' AND q = 'vpn' AND day = $1`, [new Date(d(4))])

  // The oracle: no day summed, every report from facts.
  await r.app.db.query(`DELETE FROM report_days WHERE org_id = 'acme'`)
  const fromFacts = await answers()
  for (const url of urls) t.same(fromTiles[url], fromFacts[url], `the same answer from facts: ${url.slice(url.indexOf('&to='))}`)

  // Summed again (the build replaces what a day held), and still the same.
  await settle(r.app)
  t.same(await answers(), fromFacts, 'summed again: the same answers')
})
