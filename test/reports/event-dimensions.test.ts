import t from 'tap'
import { CoveoSender, get, reportsApp, settle, type ReportsApp } from './helpers.js'

/*
 * Dimensions read from the raw events (customData keys, browser, …) filter and group every report
 * as the facts' own columns do. Every event of this set carries customData.team equal to its
 * originLevel1, so each report filtered or grouped by `c.team` must equal the same report by `hub`
 * — on plain PostgreSQL, where the events are read by each fact's keys, and on Citus
 * (`npm run test:citus`), where they are joined from the events of the report's range.
 */

async function teamSet(r: ReportsApp, base: number) {
  const s = new CoveoSender(r, base)
  const post = async (at: number, kind: 'click' | 'custom', payload: Record<string, unknown>) => {
    r.clock.set(new Date(base + at))
    const res = await r.app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/${kind}`, headers: { authorization: `Bearer ${r.push}` }, payload })
    if (res.statusCode !== 200) throw new Error(`${kind} ${res.statusCode} ${res.body}`)
  }
  let i = 0
  const search = async (visitor: string, q: string, hub: string, clicked: number | null, nr = 5) => {
    const uid = `u${i++}`
    const at = i * 2000
    await s.search({ at, visitor, q, uid, hub, nr, customData: { team: hub } })
    if (clicked !== null) {
      await post(at + 700, 'click', {
        language: 'en', actionCause: 'documentOpen', documentPosition: clicked, searchQueryUid: uid, sourceName: 'kb', clientId: visitor,
        documentUrl: `https://kb.example.com/${q.replaceAll(' ', '-')}`, documentTitle: q, originLevel1: hub, customData: { team: hub },
      })
    }
    if (i % 3 === 0) await post(at + 900, 'custom', { language: 'en', eventType: 'facet', eventValue: 'author', clientId: visitor, originLevel1: hub, customData: { team: hub } })
  }
  for (const [v, c] of [['a', 1], ['b', 3], ['c', null], ['d', null]] as const) await search(v, 'reset password', 'Support', c)
  for (const v of ['a', 'b', 'c']) await search(v, 'remote access', 'Support', 2)
  for (const v of ['a', 'b']) await search(v, 'release notes', 'Support', null, 0)
  for (const [v, c] of [['e', 1], ['f', 4], ['g', null]] as const) await search(v, 'printer reset', 'Sales', c)
  for (const v of ['e', 'h']) await search(v, 'toner', 'Sales', null, 0)
  await search('f', 'invoice', 'Sales', 1)
}

t.test('reports filtered and grouped by a customData key equal the same reports by hub', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime() - 3_600_000
  await teamSet(r, base)
  await settle(r.app)
  const range = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 2 * 3_600_000).toISOString()}`
  const metrics = 'searchEvents,searches,userSearches,ctr,clicks,averageClickRank,noResultRate,abandonmentRate,visits,visitors,visitClickThrough,searchesPerVisit'
  const read = async (path: string) => {
    const res = await get(r, path)
    t.equal(res.status, 200, path)
    return res.body
  }
  // The same request by hub and by c.team (filters: `DIM` stands for the dimension).
  const both = async (path: (dim: string) => string) => [await read(path('hub')), await read(path('c.team'))]
  const f = (filter: string) => (dim: string) => `f=${encodeURIComponent(filter.replaceAll('DIM', dim))}`

  for (const filter of [`DIM == 'Sales'`, `DIM != 'Sales'`, `DIM =@ 'sup' AND browser != 'none'`, `DIM == 'Sales' OR hub == 'nowhere'`]) {
    const [byHub, byTeam] = await both((d) => `/api/v1/overview?${range}&metrics=${metrics}&compare=none&${f(filter)(d)}`)
    t.strictSame(byTeam.data, byHub.data, `overview, ${filter}`)
    t.ok(byHub.data.searches.value > 0, 'the filter keeps some searches')
    const [seriesHub, seriesTeam] = await both((d) => `/api/v1/timeseries?${range}&metrics=${metrics}&interval=hour&${f(filter)(d)}`)
    t.strictSame(seriesTeam.data, seriesHub.data, `timeseries, ${filter}`)
  }
  const all = await read(`/api/v1/overview?${range}&metrics=searches&compare=none`)
  const sales = await read(`/api/v1/overview?${range}&metrics=searches&compare=none&f=${encodeURIComponent(`c.team == 'Sales'`)}`)
  t.ok(sales.data.searches.value < all.data.searches.value, 'the filter leaves some searches out')

  const sales1 = f(`DIM == 'Sales'`)
  const pairs: Array<[string, (dim: string) => string]> = [
    ['queries', (d) => `/api/v1/queries?${range}&${sales1(d)}`],
    ['trending queries', (d) => `/api/v1/queries?${range}&view=trending&${f(`DIM != 'nowhere'`)(d)}`],
    ['query detail', (d) => `/api/v1/queries/detail?${range}&query=printer%20reset&${sales1(d)}`],
    ['content gaps', (d) => `/api/v1/content-gaps?${range}&minSearches=1&${sales1(d)}`],
    ['documents', (d) => `/api/v1/documents?${range}&${sales1(d)}`],
    ['document detail', (d) => `/api/v1/documents/detail?${range}&document=${encodeURIComponent('https://kb.example.com/printer-reset')}&${sales1(d)}`],
    ['feedback', (d) => `/api/v1/feedback?${range}&comments=true&${sales1(d)}`],
    ['visits', (d) => `/api/v1/visits?${range}&orderBy=start&direction=asc&${sales1(d)}`],
    ['visits without', (d) => `/api/v1/visits?${range}&orderBy=start&direction=asc&fn=${encodeURIComponent(`${d} == 'Sales'`)}`],
    ['deflection', (d) => `/api/v1/deflection?${range}&${sales1(d)}`],
  ]
  for (const [name, path] of pairs) {
    const [byHub, byTeam] = await both(path)
    t.strictSame(byTeam.data, byHub.data, name)
  }
  const queries = await read(`/api/v1/queries?${range}&${sales1('c.team')}`)
  t.strictSame(queries.data.rows.map((q: { query: string }) => q.query).sort(), ['invoice', 'printer reset', 'toner'], 'the Sales queries')
  const visits = await read(`/api/v1/visits?${range}&${sales1('c.team')}`)
  t.equal(visits.data.rows.length, 4, 'the visits of e, f, g and h')

  // Groups: the rows by c.team are the rows by hub.
  const rename = (rows: Array<Record<string, unknown>>, from: string) => rows.map(({ [from]: key, ...rest }) => ({ key, ...rest }))
  const breakdown = async (d: string) => (await read(`/api/v1/breakdown?${range}&dimension=${d}&metrics=searches,userSearches,ctr,noResultRate,visits,visitors`)).data.rows
  t.strictSame(rename(await breakdown('c.team'), 'c.team'), rename(await breakdown('hub'), 'hub'), 'breakdown')
  t.equal((await breakdown('c.team')).length, 2)
  const twoDims = async (d: string) => (await read(`/api/v1/breakdown?${range}&dimension=${d},browser&metrics=searches,visits&${f(`DIM != 'x'`)(d)}`)).data.rows
  t.strictSame(rename(await twoDims('c.team'), 'c.team'), rename(await twoDims('hub'), 'hub'), 'breakdown by two dimensions read from events')
  const values = async (d: string) => (await read(`/api/v1/dimensions/${d}/values?${range}`)).data
  t.strictSame(await values('c.team'), await values('hub'), 'dimension values')

  const auth = { authorization: `Bearer ${r.read}` }
    const combined = async (d: string) => (await r.app.inject({
    method: 'GET', headers: auth, url: `/rest/ua/v15/stats/combinedData?m=PerformSearch,ClickThroughRatio&d=${d}&${range}&s=PerformSearch&asc=false`,
  })).json().combinations
  t.strictSame(rename(await combined('c_team'), 'c_team'), rename(await combined('originLevel1'), 'originLevel1'), 'Coveo combinedData')
  const global = async (filter: string) => (await r.app.inject({
    method: 'GET', headers: auth,
    url: `/rest/ua/v15/stats/globalData?m=PerformSearch&m=${encodeURIComponent('countDistinct(queryexpression)')}&${range}&f=${encodeURIComponent(filter)}`,
  })).json().globalDatas
  const byTeam = await global(`c_team=='Sales'`)
  t.strictSame(byTeam, await global(`originLevel1=='Sales'`), 'Coveo globalData')
  t.strictSame(byTeam['countDistinct(queryexpression)'], { value: 3 })
})
