import t from 'tap'
import { get, HAND_MADE, reportsApp, round, sendHandMadeSet, settle } from './helpers.js'

/*
 * The hand-made set (helpers.ts), worked out by hand:
 *  search events 10: s1 s2 s3, a1…a5, c1 c2 (the bot's search is left out).
 *  partials: a1 "p", a2 "pa", a3 "pass" — as-you-type, no click, the next search ≤ 10 s later and
 *    prefix-related — so S = {s1 s2 s3 a4 a5 c1 c2} (7) and U = S minus the refinement a5 (6).
 *  T = S (every search has an id); clicked: s1, s3, a5 → ctr 3/7, clicksPerSearch 3/7.
 *  clicks 4 (three bound, one Workplace click, unbound); positions 2, 1, 3, 1 → averageClickRank 7/4.
 *  MRR = (1/2 + 1/1 + 1/3) / 7.
 *  no results among U: s2 "vpn", c2 "printer driver" → 2 of the 6 with a known count.
 *  chains: s1 clicked; s2 not; s3 clicked; a4's chain {a4, a5} clicked via a5; c1, c2 not → 3 of 6.
 *  abandoned: only c2 (no click in its chain, no later user search) → 1/6.
 *  reformulated: s2 → "remote access" 30 s later; c1 → "printer driver" 30 s later → 2/6.
 *  first clicks 5 s, 10 s, 16 s: bins [5 s, 8 s), [8 s, 13 s), [13 s, 20 s) → median 8 000 + 0.5 × 5 000
 *    = 10 500 ms; p90 13 000 + 0.7 × 7 000 = 17 900 ms.
 *  response times over S: 100 + 50 + 70 + 40 + 30 + 20 + 10 = 320 / 7 (the partials' 999 are left out).
 *  visits A, B, C (the Workplace events have no visitor): 3 visits, 3 visitors; with a search and a
 *    click: A, B → 2/3; searches of S in visits 7/3; self service A, B → 2/3.
 *  feedback: Workplace +1 and −1 → 1/2.
 */
t.test('every tier-1 figure of the hand-made set, from tiles and from facts alike', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  await sendHandMadeSet(r, base)
  const names = Object.keys(HAND_MADE).join(',')
  const from = new Date(base - 3_600_000).toISOString()
  const to = new Date(base + 3_600_000).toISOString()

  // Facts only (the hour has no tile yet), then tiles (the hour rebuilt): the same figures.
  await settle(r.app, false)
  for (const path of ['facts', 'tiles']) {
    if (path === 'tiles') await settle(r.app, true)
    const res = await get(r, `/api/v1/overview?from=${from}&to=${to}&metrics=${names}&compare=none`)
    t.equal(res.status, 200)
    const values = Object.fromEntries(Object.entries(res.body.data).map(([k, v]) => [k, (v as { value: unknown }).value]))
    t.same(values, HAND_MADE, `overview from ${path}`)
    const series = await get(r, `/api/v1/timeseries?from=${from}&to=${to}&metrics=${names}&interval=hour`)
    t.same(series.body.data.totals, HAND_MADE, `timeseries totals from ${path}`)
  }
  const tiles = await r.app.db.query(`SELECT count(*)::int AS n FROM report_tiles WHERE org_id = 'acme'`)
  t.ok(tiles.rows[0].n > 0, 'the hour has tiles')

  const bots = await get(r, `/api/v1/overview?from=${from}&to=${to}&metrics=searchEvents,visits&bots=only&compare=none`)
  t.equal(bots.body.data.searchEvents.value, 1, 'bots=only: the bot search')
  t.equal(bots.body.data.visits.value, 1)
  const withBots = await get(r, `/api/v1/overview?from=${from}&to=${to}&metrics=searchEvents&bots=include&compare=none`)
  t.equal(withBots.body.data.searchEvents.value, 11)

  const deflection = await get(r, `/api/v1/overview?from=${from}&to=${to}&metrics=deflectionRate&compare=none`)
  t.same(deflection.body.data.deflectionRate, { value: null, reason: 'notMeasurable', ci95: null })
  t.same(deflection.body.meta.notMeasurable, ['deflectionRate'])
})

t.test('visit figures under a filter count the visits holding a matching event', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  await sendHandMadeSet(r, base)
  await settle(r.app)
  const range = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 3_600_000).toISOString()}`
  const visits = async (filter: string) => {
    const res = await get(r, `/api/v1/overview?${range}&metrics=visits,visitors,visitClickThrough,searchesPerVisit&compare=none&f=${encodeURIComponent(filter)}`)
    t.equal(res.status, 200)
    return Object.fromEntries(Object.entries(res.body.data).map(([k, v]) => [k, (v as { value: unknown }).value]))
  }
  // vpn: visit A only (three searches of S, two clicked chains: a search and a click).
  t.same(await visits("query == 'vpn'"), { visits: 1, visitors: 1, visitClickThrough: 1, searchesPerVisit: 3 })
  // printer or vpn: visits A and C (C without a click); searches of S in them 3 + 2.
  t.same(await visits("query == 'vpn' OR query == 'printer'"), { visits: 2, visitors: 2, visitClickThrough: 0.5, searchesPerVisit: 2.5 })
  // Every event of the set is in hub Support: the bot's visit stays out, as without a filter.
  t.same(await visits("hub == 'Support'"), { visits: 3, visitors: 3, visitClickThrough: round(2 / 3), searchesPerVisit: round(7 / 3) })
})

t.test('queries, detail, content gaps and documents of the hand-made set', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  await sendHandMadeSet(r, base)
  await settle(r.app)
  const range = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 3_600_000).toISOString()}`

  const top = await get(r, `/api/v1/queries?${range}`)
  t.equal(top.status, 200)
  const rows = top.body.data.rows as Array<Record<string, unknown>>
  t.same(rows.map((q) => q.query).sort(), ['pass', 'printer', 'printer driver', 'remote access', 'reset password', 'vpn'], 'no prefix rows, "Reset  Password " is "reset password"')
  const pass = rows.find((q) => q.query === 'pass')!
  t.match(pass, { searchEvents: 3, searches: 2, userSearches: 1, searchesWithClick: 1, ctr: 0.5, clickedUserSearches: 1, abandonmentRate: 0, display: 'pass' })
  const reset = rows.find((q) => q.query === 'reset password')!
  t.match(reset, { userSearches: 1, ctr: 1, averageClickRank: 2, display: 'Reset  Password', noResultRate: 0, visitors: 1 })
  const vpn = rows.find((q) => q.query === 'vpn')!
  t.match(vpn, { noResultSearches: 1, noResultRate: 1, reformulationRate: 1, ctr: 0 })

  const noResults = await get(r, `/api/v1/queries?${range}&view=noResults`)
  t.same(noResults.body.data.rows.map((q: { query: string }) => q.query), ['printer driver', 'vpn'])

  const detail = await get(r, `/api/v1/queries/detail?${range}&query=${encodeURIComponent('  RESET password')}`)
  t.equal(detail.body.data.query, 'reset password')
  t.equal(detail.body.data.totals.userSearches, 1)
  t.same(detail.body.data.documents, [{ document: 'kb-1', clicks: 1, averagePosition: 2 }])
  t.same(detail.body.data.clickPositions.find((b: { from: number }) => b.from === 2), { from: 2, to: 2, clicks: 1 })
  t.same(detail.body.data.nextQueries, [{ query: 'vpn', count: 1, ledToClick: 0 }])
  // "pass" submitted at 3 s, refined by a facet at 4 s: counted with the search it refines, even
  // when the range ends between the two.
  const pass3 = await get(r, `/api/v1/queries/detail?${range}&query=pass`)
  t.same(pass3.body.data.refinements, [{ cause: 'facetSelect', count: 1 }])
  const cut = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 3_500).toISOString()}`
  t.same((await get(r, `/api/v1/queries/detail?${cut}&query=pass`)).body.data.refinements, [{ cause: 'facetSelect', count: 1 }], 'a refinement after the range')
  const unknown = await get(r, `/api/v1/queries/detail?${range}&query=${encodeURIComponent("50% /'\"")}`)
  t.equal(unknown.status, 200)
  t.equal(unknown.body.data.totals.userSearches, 0)

  const gaps = await get(r, `/api/v1/content-gaps?${range}&minSearches=1`)
  t.same(gaps.body.data.rescues, [{ failedQuery: 'vpn', rescueQuery: 'remote access', count: 1, share: 1 }])
  t.same(gaps.body.data.clusters.map((c: { key: string }) => c.key).sort(), ['driver printer', 'vpn'])

  const docs = await get(r, `/api/v1/documents?${range}`)
  t.same(docs.body.data.rows.map((d: { document: string; clicks: number; searchesLeading: number }) => [d.document, d.clicks, d.searchesLeading]), [
    ['kb-1', 1, 1], ['kb-2', 1, 1], ['kb-3', 1, 1], ['ws-1', 1, 0],
  ])
  const ws = docs.body.data.rows.find((d: { document: string }) => d.document === 'ws-1')
  t.match(ws, { positive: 1, negative: 1, feedbackPositiveRate: 0.5 })
})
