import t from 'tap'
import { CoveoSender, reportsApp, settle, type ReportsApp } from './helpers.js'

/** The set behind the suggestions: who searched what, and which searches were clicked. */
async function suggestionSet(r: ReportsApp, base: number) {
  const s = new CoveoSender(r, base)
  let i = 0
  const search = async (visitor: string, q: string, hub: string, clicked: boolean, nr = 5) => {
    const uid = `u${i++}`
    await s.search({ at: i * 1000, visitor, q, uid, hub, nr })
    if (clicked) await s.click({ at: i * 1000 + 500, visitor, uid, position: 1, doc: 'kb', hub })
  }
  // "reset password": 4 visitors, 2 clicked; "remote access": 3 visitors, 3 clicked; "reset pin": 2 visitors only;
  // "release notes" 3 visitors, never any result; "printer reset" 3 visitors in another hub.
  for (const [v, c] of [['a', true], ['b', true], ['c', false], ['d', false]] as const) await search(v, 'Reset Password', 'Support', c)
  for (const v of ['a', 'b', 'c']) await search(v, 'remote access', 'Support', true)
  for (const v of ['a', 'b']) await search(v, 'reset pin', 'Support', true)
  for (const v of ['a', 'b', 'c']) await search(v, 'release notes', 'Support', false, 0)
  for (const v of ['e', 'f', 'g']) await search(v, 'printer reset', 'Sales', true)
}

t.test('the Search Framework omnibox request for stats/topQueries, with the page\'s search token', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime() - 3_600_000
  await suggestionSet(r, base)
  await settle(r.app)
  const token = await r.app.auth.signSearchToken('acme', { userIds: [{ name: 'visitor@acme.com' }], searchHub: 'Support' }, 3600)
  // AnalyticsEndpoint.getTopQueries: GET `${serviceUrl}/v15/stats/topQueries` with the org first, then
  // pageSize, queryText and access_token from the parameters (EndpointCaller's query string), and
  // the token also as a Bearer header.
  const omnibox = (serviceUrl: string, word: string, headers: Record<string, string> = {}) =>
    r.app.inject({
      method: 'GET',
      url: `${serviceUrl}/v15/stats/topQueries?org=acme&pageSize=5&queryText=${encodeURIComponent(word)}&access_token=${encodeURIComponent(token)}`,
      headers: { authorization: `Bearer ${token}`, ...headers },
    })
  for (const serviceUrl of ['/rest/ua', '', '/my-proxy']) {
    const res = await omnibox(serviceUrl, 're')
    t.equal(res.statusCode, 200, `${serviceUrl}/v15/stats/topQueries`)
    t.same(res.json(), ['remote access', 'Reset Password'], 'clicked first; two-visitor and never-answered queries left out; the token\'s hub only')
  }
  t.same((await omnibox('/rest/ua', 'pass')).json(), ['Reset Password'], 'a word inside the query')
  t.same((await omnibox('/rest/ua', 'zzz')).json(), [])
  const keyed = await r.app.inject({ method: 'GET', url: `/rest/ua/v15/analytics/stats/topQueries?queryText=re&hub=Sales&access_token=${r.read}` })
  t.same(keyed.json(), ['printer reset'], 'a read key names the hub it wants')
  const v14 = await r.app.inject({ method: 'GET', url: `/rest/ua/v14/stats/topQueries?queryText=re&pageSize=1&access_token=${r.read}` })
  t.same(v14.json(), ['printer reset'])
  const expired = await r.app.inject({ method: 'GET', url: '/rest/ua/v15/stats/topQueries?queryText=re&access_token=not-a-token' })
  t.same([expired.statusCode, expired.json().type], [400, 'InvalidToken'], 'Coveo\'s answer to a bad token')
  const global = await r.app.inject({ method: 'GET', url: `/rest/ua/v15/stats/globalData?m=PerformSearch&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z&access_token=${encodeURIComponent(token)}` })
  t.equal(global.statusCode, 403, 'a search token reads topQueries only')
})

t.test('stats/globalData and stats/combinedData with Coveo\'s names; the unsupported in Coveo\'s error shape', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime() - 3_600_000
  await suggestionSet(r, base)
  await settle(r.app)
  const from = new Date(base - 3_600_000).toISOString()
  const to = new Date(base + 2 * 3_600_000).toISOString()
  const auth = { authorization: `Bearer ${r.read}` }
  const global = await r.app.inject({
    method: 'GET', headers: auth,
    url: `/rest/ua/v15/stats/globalData?m=PerformSearch,ClickThroughRatio&m=UniqueVisit&m=${encodeURIComponent('countDistinct(queryexpression)')}&from=${from}&to=${to}&i=HOUR`,
  })
  t.equal(global.statusCode, 200)
  const g = global.json()
  t.same(g.globalDatas.PerformSearch, { total: 15, peak: 15, average: 5 }, '15 searches in 3 hours, all in one')
  t.same(g.globalDatas.ClickThroughRatio, { value: 0.666667 }, '10 of 15 clicked: 2 + 3 + 2 + 0 + 3')
  t.same(g.globalDatas.UniqueVisit, { value: 7 })
  t.same(g.globalDatas['countDistinct(queryexpression)'], { value: 5 })
  t.type(g.lastUpdated, 'number')

  const combined = await r.app.inject({
    method: 'GET', headers: auth,
    url: `/rest/ua/v15/stats/combinedData?m=PerformSearch,ClickThroughRatio&d=originLevel1&from=${from}&to=${to}&s=PerformSearch&asc=false&fm=${encodeURIComponent('PerformSearch > 1')}`,
  })
  t.same(combined.json().combinations, [
    { originLevel1: 'Support', PerformSearch: 12, ClickThroughRatio: 0.583333 },
    { originLevel1: 'Sales', PerformSearch: 3, ClickThroughRatio: 1 },
  ])
  t.same(combined.json().uniqueCounts, { originLevel1: 2 })
  t.equal(combined.json().totalNumberOfResults, 2)
  const csv = await r.app.inject({ method: 'GET', headers: auth, url: `/rest/v15/stats/combinedData?m=PerformSearch&d=originLevel1&from=${from}&to=${to}&format=CSV` })
  t.equal(csv.body, 'originLevel1,PerformSearch\r\nSales,3\r\nSupport,12\r\n')

  const bad = await r.app.inject({ method: 'GET', headers: auth, url: `/rest/ua/v15/stats/globalData?m=PerformSearch,RelevanceIndex&from=${from}&to=${to}` })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().type, 'InvalidMetric')
  t.match(bad.json().message, /^Unsupported metric\(s\): RelevanceIndex\. Supported: /)
  t.same(Object.keys(bad.json()).sort(), ['message', 'type'])
  const dim = await r.app.inject({ method: 'GET', headers: auth, url: `/rest/ua/v15/stats/combinedData?m=PerformSearch&d=nope&from=${from}&to=${to}` })
  t.same([dim.statusCode, dim.json().type], [400, 'InvalidDimension'])
  const other = await r.app.inject({ method: 'GET', headers: auth, url: '/rest/ua/v15/stats/visits' })
  t.same([other.statusCode, other.json().type], [501, 'NotImplemented'])
  t.same((await r.app.inject({ method: 'GET', url: '/v15/stats/status' })).json(), { status: 'online' })
  t.same((await r.app.inject({ method: 'GET', url: '/rest/ua/v15/stats/monitoring/health' })).json(), { status: 'UP' })
})
