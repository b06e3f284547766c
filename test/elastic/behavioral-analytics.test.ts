import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'
import { storedEvents } from '../coveo/helpers.js'

const USER = { id: '9b319871-21f2-4d64-b5c8-07474bef60ea' }
const SESSION = { id: 'e097e698-5e91-412b-b913-78a7812bb202' }
const SEARCH = { query: 'everglade', filters: { states: ['Florida'] }, page: { current: 1, size: 20 }, results: { items: [], total_results: 2 } }
const BASE = '/_application/analytics/website/event'

t.test('the analytics plugin\'s search and search_click, and a page_view: 202 {"accepted": true}', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const headers = { authorization: `Apikey ${key}`, 'content-type': 'application/json' }
  const search = await app.inject({ method: 'POST', url: `${BASE}/search`, headers, payload: { search: SEARCH, user: USER, session: SESSION } })
  t.equal(search.statusCode, 202)
  t.same(search.json(), { accepted: true })
  const click = await app.inject({ method: 'POST', url: `${BASE}/search_click`, headers, payload: { search: SEARCH, document: { id: 'doc-2', index: 'results' }, user: USER, session: SESSION } })
  t.same([click.statusCode, click.json()], [202, { accepted: true }])
  const view = await app.inject({
    method: 'POST',
    url: `${BASE}/page_view`,
    headers: { ...headers, authorization: `ApiKey ${key}` },
    payload: { page: { url: 'https://parks.example/p/1', title: 'Everglades', referrer: '' }, document: { id: 'p1', index: 'parks' }, user: USER, session: SESSION },
  })
  t.same([view.statusCode, view.json()], [202, { accepted: true }])

  const [s, c, v] = await storedEvents(app)
  t.match(s, {
    protocol: 'behavioral-analytics', type: 'search', event_type: 'search', tracking_id: 'website', visitor_id: USER.id, query_text: 'everglade', number_of_results: 2,
    search_query_uid: null, extra: { sessionId: SESSION.id, filters: { states: ['Florida'] }, pagination: { current: 1, size: 20 }, resultItems: [] },
  })
  t.ok(s!.visit_id)
  t.match(c, { type: 'click', event_type: 'search_click', document_id: 'doc-2', source_name: 'results', query_text: 'everglade', document_position: null, number_of_results: null, extra: { sessionId: SESSION.id, totalResults: 2 } })
  t.equal(c!.visit_id, s!.visit_id, 'the same visitor, the same visit')
  t.match(v, { type: 'view', event_type: 'page_view', document_url: 'https://parks.example/p/1', document_title: 'Everglades', origin_level3: null, document_id: 'p1', source_name: 'parks' })
})

t.test('positions, filters and sort in their other forms, search application, debug, prefix', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const headers = { authorization: `Bearer ${key}` }
  const search = {
    query: 'q',
    search_application: 'parks-app',
    filters: [{ field: 'states', value: ['Utah'] }],
    sort: [{ name: 'title', direction: 'asc' }],
    page: { current: 3, size: 10 },
    results: { items: [{ document: { id: 'a', index: 'i' } }, { document: { id: 'b', index: 'i' }, page: { url: 'https://b' } }], total_results: 40 },
  }
  const reply = await app.inject({ method: 'POST', url: `/proxy/_application/analytics/col.1/event/search_click?debug=true`, headers, payload: { search, document: { id: 'b', index: 'i' }, page: { url: 'https://b', title: 'B' }, user: USER, session: SESSION, other: 1 } })
  t.equal(reply.statusCode, 202)
  t.match(reply.json(), { accepted: true, event: { type: 'click', protocol: 'behavioral-analytics', documentPosition: 22, trackingId: 'col.1' } })
  const [row] = await storedEvents(app)
  t.match(row, { document_position: 22, origin_level1: 'parks-app', document_url: 'https://b', document_title: 'B', extra: { filters: { states: ['Utah'] }, sort: { name: 'title', direction: 'asc' }, other: 1 } })
})

t.test('refusals in Elasticsearch\'s shape store nothing', async (t) => {
  const { app } = await buildTestApp(t)
  const a = await createKey(app, 'acme')
  await createKey(app, 'beta')
  const post = (path: string, payload: unknown, authorization: string | null = `Apikey ${a.key}`, type = 'application/json') =>
    app.inject({ method: 'POST', url: path, headers: { 'content-type': type, ...(authorization ? { authorization } : {}) }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
  const base = { user: USER, session: SESSION }
  const parse: Array<[string, string, unknown, string, string]> = [
    ['no user', 'search', { search: SEARCH, session: SESSION }, '[search] failed to parse field [user]', 'field [user] is required'],
    ['blank user id', 'search', { search: SEARCH, user: { id: ' ' }, session: SESSION }, '[search] failed to parse field [user.id]', "field [id] can't be blank"],
    ['no session id', 'page_view', { page: { url: 'u' }, user: USER, session: {} }, '[page_view] failed to parse field [session.id]', 'field [id] is required'],
    ['page_view without page', 'page_view', base, '[page_view] failed to parse field [page]', 'field [page] is required'],
    ['page without url', 'page_view', { ...base, page: { title: 't' } }, '[page_view] failed to parse field [page.url]', 'field [url] is required'],
    ['search without search', 'search', base, '[search] failed to parse field [search]', 'field [search] is required'],
    ['search without query', 'search', { ...base, search: { page: { current: 1, size: 1 } } }, '[search] failed to parse field [search.query]', 'field [query] is required'],
    ['a filter of numbers', 'search', { ...base, search: { query: '', filters: { year: [2020] } } }, '[search] failed to parse field [search.filters.year]', '[year] must be a string or an array of string.'],
    ['page without size', 'search', { ...base, search: { query: '', page: { current: 1 } } }, '[search] failed to parse field [search.page.size]', 'field [size] is required'],
    ['negative page', 'search', { ...base, search: { query: '', page: { current: -1, size: 1 } } }, '[search] failed to parse field [search.page.current]', 'field [current] must be an integer from 0 to 2147483647'],
    ['huge total', 'search', { ...base, search: { query: '', results: { total_results: 2 ** 31 } } }, '[search] failed to parse field [search.results.total_results]', 'field [total_results] must be an integer from 0 to 2147483647'],
    ['sort without name', 'search', { ...base, search: { query: '', sort: { direction: 'asc' } } }, '[search] failed to parse field [search.sort.name]', 'field [name] is required'],
    ['click without document or page', 'search_click', { ...base, search: SEARCH }, '[search_click] failed to parse field [search_click]', 'a search_click event needs a [document] or a [page] field'],
    ['blank document id', 'search_click', { ...base, search: SEARCH, document: { id: '' } }, '[search_click] failed to parse field [document.id]', "field [id] can't be blank"],
  ]
  for (const [name, type, payload, reason, cause] of parse) {
    const reply = await post(`${BASE}/${type}`, payload)
    t.equal(reply.statusCode, 400, name)
    t.same(reply.json(), {
      error: { root_cause: [{ type: 'illegal_argument_exception', reason: cause }], type: 'x_content_parse_exception', reason, caused_by: { type: 'illegal_argument_exception', reason: cause } },
      status: 400,
    }, name)
  }
  const other: Array<[string, Awaited<ReturnType<typeof post>>, number, string, RegExp]> = [
    ['an unknown event type', await post(`${BASE}/click`, { ...base }), 400, 'action_request_validation_exception', /^Validation Failed: 1: invalid event type: \[click\];$/],
    ['upper case', await post(`${BASE}/SEARCH`, { ...base }), 400, 'action_request_validation_exception', /invalid event type: \[SEARCH\]/],
    ['a bad collection', await post('/_application/analytics/a%20b/event/search', { ...base }), 400, 'action_request_validation_exception', /invalid collection name/],
    ['broken JSON', await post(`${BASE}/search`, '{"user":'), 400, 'x_content_parse_exception', /JSON/],
    ['text/plain', await post(`${BASE}/search`, '{}', `Apikey ${a.key}`, 'text/plain'), 415, 'media_type_header_exception', /Content-Type/],
    ['no credentials', await post(`${BASE}/search`, { ...base, search: SEARCH }, null), 401, 'security_exception', /./],
    ['a bad key', await post(`${BASE}/search`, { ...base, search: SEARCH }, 'Apikey st_0000000000000000_x'), 401, 'security_exception', /./],
    ['another org', await post(`${BASE}/search?org=beta`, { ...base, search: SEARCH }), 403, 'security_exception', /beta/],
    ['unknown path', await post('/_application/search_application/x/_search', {}), 404, 'resource_not_found_exception', /no handler found/],
  ]
  for (const [name, reply, status, type, reason] of other) {
    t.equal(reply.statusCode, status, name)
    const body = reply.json()
    t.match(body, { error: { root_cause: [{ type: String, reason: String }], type, reason }, status }, name)
  }
  t.equal(other[5]![1].headers['www-authenticate'], 'ApiKey')
  const badUrl = await app.inject({ method: 'POST', url: '/_application/%E0%A4%A' })
  t.equal(badUrl.statusCode, 400)
  t.match(badUrl.json(), { error: { type: String, reason: String }, status: 400 })
  t.equal((await storedEvents(app, 'acme')).length + (await storedEvents(app, 'beta')).length, 0)
})

t.test('long values are cut to their widths', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const reply = await app.inject({
    method: 'POST',
    url: `${BASE}/page_view`,
    headers: { authorization: `Apikey ${key}` },
    payload: { page: { url: 'u'.repeat(2000), referrer: 'r'.repeat(300) }, user: { id: 'v'.repeat(300) }, session: SESSION },
  })
  t.equal(reply.statusCode, 202)
  const [row] = await storedEvents(app)
  t.equal((row!.document_url as string).length, 1024)
  t.equal((row!.visitor_id as string).length, 128)
  t.equal((row!.origin_level3 as string).length, 128)
  t.equal((row!.extra as { referrer: string }).referrer.length, 300)
})
