import t from 'tap'
import { createKey } from '../helpers/app.js'
import { CoveoSender, get, reportsApp, sendHandMadeSet, settle } from './helpers.js'

const READ_ROUTES = [
  '/api/v1/overview', '/api/v1/timeseries', '/api/v1/queries', '/api/v1/queries?view=noResults', '/api/v1/queries?view=trending',
  '/api/v1/queries/detail?query=vpn', '/api/v1/content-gaps?minSearches=1', '/api/v1/documents', '/api/v1/documents/detail?document=kb-1',
  '/api/v1/breakdown?dimension=hub', '/api/v1/breakdown?dimension=query,language', '/api/v1/visits', '/api/v1/deflection',
  '/api/v1/feedback', '/api/v1/feedback?groupBy=document&comments=true', '/api/v1/quality', '/api/v1/status',
  '/api/v1/dimensions/query/values?prefix=v', '/api/v1/breakdown?dimension=c.color',
]

t.test('a read key of one org never sees another org\'s data, through any route or filter', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  await sendHandMadeSet(r, base)
  await settle(r.app)
  const other = (await createKey(r.app, 'other', ['analytics:read'])).key
  const range = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 3_600_000).toISOString()}`
  const visits = await get(r, `/api/v1/visits?${range}`)
  t.equal(visits.body.data.rows.length, 3)
  const visitId = visits.body.data.rows[0].visitId as string

  for (const route of READ_ROUTES) {
    const url = `${route}${route.includes('?') ? '&' : '?'}${range}&f=${encodeURIComponent(`visit == '${visitId}' OR hub == 'Support'`)}&bots=include`
    const own = await get(r, url)
    t.equal(own.status, 200, `${route} answers its own org`)
    const res = await get(r, url, other)
    t.equal(res.status, 200, `${route} answers the other org`)
    // The detail routes echo the query or document asked for; everything else must be empty.
    const { query: _q, display: _d, document: _doc, ...data } = res.body.data as Record<string, unknown>
    if (data.totals && typeof data.totals === 'object') delete (data.totals as Record<string, unknown>).document
    const text = JSON.stringify(Array.isArray(res.body.data) ? res.body.data : data)
    for (const leak of ['vpn', 'kb-1', 'reset password', visitId, 'Support', 'ws-1']) t.notOk(text.includes(leak), `${route}: nothing of acme (${leak})`)
    const named = await get(r, `${url}&org=acme`, other)
    t.same([named.status, named.body.type], [403, 'Forbidden'], `${route}: naming another org is refused`)
  }
  const timeline = await get(r, `/api/v1/visits/${visitId}`, other)
  t.same([timeline.status, timeline.body.type], [404, 'NotFound'], 'another org\'s visit is not found')
  t.equal((await get(r, '/api/v1/visits/not-a-uuid')).status, 404)
  const csv = await r.app.inject({ method: 'GET', url: `/api/v1/export?format=csv&${range}&bots=include`, headers: { authorization: `Bearer ${other}` } })
  t.equal(csv.statusCode, 200)
  t.equal(csv.body.trim().split('\n').length, 1, 'the export of the other org holds the header only')
  const top = await r.app.inject({ method: 'GET', url: `/rest/ua/v15/stats/topQueries?org=acme&queryText=v&access_token=${other}` })
  t.equal(top.statusCode, 403)
})

t.test('keys and tokens: analytics:read only; Bearer or access_token; errors in the service\'s shape', async (t) => {
  const r = await reportsApp(t)
  t.same((await get(r, '/api/v1/overview', r.push)).body.type, 'Forbidden', 'a push key cannot read')
  const none = await r.app.inject({ method: 'GET', url: '/api/v1/overview' })
  t.same([none.statusCode, none.json().type], [401, 'MissingToken'])
  const query = await r.app.inject({ method: 'GET', url: `/api/v1/overview?access_token=${r.read}` })
  t.equal(query.statusCode, 200)
  const token = await r.app.auth.signSearchToken('acme', { userIds: [{ name: 'u@acme.com' }] }, 600)
  t.equal((await get(r, '/api/v1/overview', token)).status, 403, 'a search token reads no native report')
  const platform = (await createKey(r.app, 'platform', ['analytics:read'], ['acme'])).key
  t.same((await get(r, '/api/v1/overview', platform)).body.type, 'OrgRequired')
  t.equal((await get(r, '/api/v1/overview?org=acme', platform)).status, 200)
  const bad = await get(r, `/api/v1/overview?f=${encodeURIComponent("hub == 'a' AND")}`)
  t.same([bad.status, bad.body.type], [400, 'InvalidFilter'])
  t.type(bad.body.details.position, 'number')
  t.same((await get(r, '/api/v1/overview?f=nope==1')).body.type, 'InvalidDimension')
  t.same((await get(r, '/api/v1/overview?metrics=relevance')).body.type, 'InvalidMetric')
  const accept = await r.app.inject({ method: 'GET', url: '/api/v1/overview', headers: { authorization: `Bearer ${r.read}`, accept: 'image/png' } })
  t.equal(accept.statusCode, 406)
})

t.test('catalogues: every metric with its formula, unit and feeding protocols; dimensions as filters accept them', async (t) => {
  const r = await reportsApp(t)
  const metrics = (await get(r, '/api/v1/metrics')).body.data as Array<{ name: string; formula: string; unit: string; protocols: string[] }>
  const byName = Object.fromEntries(metrics.map((m) => [m.name, m]))
  t.same(byName.ctr!.protocols, ['coveo', 'inbenta'])
  t.same(byName.clicks!.protocols, ['coveo', 'coveo-events', 'workplace', 'inbenta', 'app-search'])
  t.ok(metrics.every((m) => m.formula.length > 5 && m.unit))
  const dims = (await get(r, '/api/v1/dimensions')).body.data as Array<{ name: string }>
  for (const d of dims) {
    const name = d.name === 'c.<key>' ? 'c.color' : d.name
    const res = await get(r, `/api/v1/overview?metrics=searches&f=${encodeURIComponent(`${name} != null`)}`)
    t.equal(res.status, 200, `filter on ${name}`)
  }
})

t.test('lists stream as CSV and NDJSON; the raw export round-trips customData', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  await sendHandMadeSet(r, base)
  const tricky = { note: 'a, "quoted"\nline', n: 3 }
  await new CoveoSender(r, base).search({ at: 70_000, visitor: 'vx', q: 'tricky', uid: 'tx', customData: tricky })
  await settle(r.app)
  const range = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 3_600_000).toISOString()}`
  const csv = await r.app.inject({ method: 'GET', url: `/api/v1/queries?${range}&format=csv`, headers: { authorization: `Bearer ${r.read}` } })
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /text\/csv/)
  t.ok(csv.headers['x-complete-until'])
  const lines = csv.body.trim().split('\r\n')
  t.equal(lines[0]!.split(',')[0], 'query')
  t.equal(lines.length, 8, 'a header and the 7 queries')
  const nd = await r.app.inject({ method: 'GET', url: `/api/v1/queries?${range}`, headers: { authorization: `Bearer ${r.read}`, accept: 'application/x-ndjson' } })
  t.equal(nd.body.trim().split('\n').map((l) => JSON.parse(l)).length, 7)

  const count = (await r.app.db.query(`SELECT count(*)::int AS n FROM events WHERE org_id = 'acme' AND NOT is_bot AND received_at >= $1 AND received_at < $2`,
    [new Date(base - 3_600_000), new Date(base + 3_600_000)])).rows[0].n
  const ndjson = await r.app.inject({ method: 'GET', url: `/api/v1/export?${range}&format=ndjson`, headers: { authorization: `Bearer ${r.read}` } })
  const rows = ndjson.body.trim().split('\n').map((l) => JSON.parse(l))
  t.equal(rows.length, count, 'rows = count(*)')
  t.same(rows.find((x) => x.search_query_uid === 'tx').custom_data, { note: tricky.note, n: 3 }, 'customData round-trips through NDJSON')
  t.notOk('user_agent' in rows[0], 'the user agent is left out by default')
  const exported = await r.app.inject({ method: 'GET', url: `/api/v1/export?${range}&format=csv&columns=event_id,custom_data&types=search`, headers: { authorization: `Bearer ${r.read}` } })
  t.match(exported.headers['content-disposition'], /attachment/)
  t.ok(exported.body.includes('"{""n"": 3, ""note"": ""a, \\""quoted\\""\\nline""}"'), 'CSV quotes the JSON text')
  const filtered = await r.app.inject({ method: 'GET', url: `/api/v1/export?${range}&format=ndjson&f=${encodeURIComponent("query == 'vpn'")}`, headers: { authorization: `Bearer ${r.read}` } })
  t.same(filtered.body.trim().split('\n').map((l) => JSON.parse(l).search_query_uid), ['s2'])
  const bad = await r.app.inject({ method: 'GET', url: `/api/v1/export?${range}&format=csv&f=${encodeURIComponent('hasClicks == true')}`, headers: { authorization: `Bearer ${r.read}` } })
  t.same([bad.statusCode, bad.json().type], [400, 'InvalidDimension'], 'a filter a raw row cannot answer is refused')
})
