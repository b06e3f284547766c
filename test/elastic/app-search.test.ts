import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'
import { storedEvents } from '../coveo/helpers.js'

const CLICK = { query: 'everglade', document_id: 'doc-2', request_id: 'as-req-1796157229321', tags: ['results'] }
const HEADERS = {
  'content-type': 'application/json',
  'x-swiftype-client': 'elastic-app-search-javascript',
  'x-swiftype-client-version': '8.13.0',
  'x-elastic-client-meta': 'ent=8.13.0-legacy,js=browser,t=8.13.0-legacy,ft=universal',
}

t.test('the connector\'s click: 200 with an empty body, stored with its engine, request id and tags', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const reply = await app.inject({
    method: 'POST',
    url: '/api/as/v1/engines/national-parks/click.json',
    headers: { ...HEADERS, authorization: `Bearer ${key}` },
    payload: CLICK,
  })
  t.equal(reply.statusCode, 200)
  t.equal(reply.body, '', 'an empty body, so the browser client does not cache the answer')
  t.match(reply.headers['content-type'], /^application\/json/)
  const [row] = await storedEvents(app)
  t.match(row, {
    protocol: 'app-search', type: 'click', search_query_uid: 'as-req-1796157229321', query_text: 'everglade', document_id: 'doc-2',
    source_name: 'national-parks', document_position: null, visitor_id: null, anonymous: true,
    extra: { tags: ['results'], clientMeta: 'ent=8.13.0-legacy,js=browser,t=8.13.0-legacy,ft=universal', swiftypeClient: 'elastic-app-search-javascript 8.13.0' },
  })
})

t.test('path forms, the search-key form and the Ruby client\'s query-string fields', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const token = await app.auth.signSearchToken('acme', { userIds: [{ name: 'ann@acme.com' }] }, 600)
  const cases: Array<[string, string, object | undefined]> = [
    ['/api/as/v1/engines/e1/click', `Bearer ${key}`, CLICK],
    ['/api/as/v1/engines/e2/click/', `Bearer search-${key}`, CLICK],
    ['/proxy/api/as/v1/engines/e3/click.json', `Bearer ${token}`, { ...CLICK, request_id: '' }],
    ['/api/as/v1/engines/e4/click/?document_id=d4&query=ruby&tags[]=a&tags[]=b', `Bearer ${key}`, {}],
    [`/api/as/v1/engines/${'e'.repeat(128)}/click`, `Bearer ${key}`, { query: '', document_id: 'd5', extraKey: 1 }],
  ]
  for (const [url, authorization, payload] of cases) {
    const reply = await app.inject({ method: 'POST', url, headers: { authorization, 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
    t.equal(reply.statusCode, 200, `${url}: ${reply.body}`)
  }
  const rows = await storedEvents(app)
  t.same(rows.map((r) => r.source_name), ['e1', 'e2', 'e3', 'e4', 'e'.repeat(128)])
  t.match(rows[2], { visitor_id: 'ann@acme.com', username: 'ann@acme.com', anonymous: false, search_query_uid: null })
  t.match(rows[3], { document_id: 'd4', query_text: 'ruby', extra: { tags: ['a', 'b'] } })
  t.match(rows[4], { query_text: '', extra: { extraKey: 1 } })
})

t.test('refusals in App Search\'s shape store nothing', async (t) => {
  const { app } = await buildTestApp(t)
  const a = await createKey(app, 'acme')
  const b = await createKey(app, 'beta')
  const reader = await createKey(app, 'acme', ['analytics:read'])
  const url = '/api/as/v1/engines/parks/click'
  const post = (payload: unknown, authorization: string | null = `Bearer ${a.key}`, path = url, type = 'application/json') =>
    app.inject({ method: 'POST', url: path, headers: { 'content-type': type, ...(authorization ? { authorization } : {}) }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
  const cases: Array<[string, Awaited<ReturnType<typeof post>>, number, string[] | RegExp]> = [
    ['no query', await post({ document_id: 'd' }), 400, ['Missing required parameter: query']],
    ['nothing', await post({}), 400, ['Missing required parameter: query', 'Missing required parameter: document_id']],
    ['types', await post({ query: 1, document_id: 2, request_id: 3, tags: 'x' }), 400, ['query must be a string', 'document_id must be a string', 'request_id must be a string', 'tags must be an array of strings']],
    ['empty document id', await post({ query: 'q', document_id: '' }), 400, ['document_id must be 1 to 512 characters long']],
    ['long document id', await post({ query: 'q', document_id: 'd'.repeat(513) }), 400, ['document_id must be 1 to 512 characters long']],
    ['long request id', await post({ query: 'q', document_id: 'd', request_id: 'r'.repeat(129) }), 400, ['request_id must be at most 128 characters long']],
    ['17 tags', await post({ query: 'q', document_id: 'd', tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }), 400, ['tags must hold at most 16 tags']],
    ['a long tag', await post({ query: 'q', document_id: 'd', tags: ['t'.repeat(65)] }), 400, [`tag "${'t'.repeat(65)}" must be at most 64 characters long`]],
    ['an array body', await post([CLICK]), 400, ['The request body must be a JSON object']],
    ['broken JSON', await post('{"query":'), 400, /JSON/],
    ['text/plain', await post(JSON.stringify(CLICK), `Bearer ${a.key}`, url, 'text/plain'), 415, /Content-Type/],
    ['no token', await post(CLICK, null), 401, /./],
    ['bad token', await post(CLICK, 'Bearer search-abc'), 401, /./],
    ['Basic', await post(CLICK, 'Basic abc'), 401, /Bearer/],
    ['no privilege', await post(CLICK, `Bearer ${reader.key}`), 403, /analytics:push/],
    ['another org', await post(CLICK, `Bearer ${a.key}`, `${url}?org=beta`), 403, /beta/],
    ['unknown path', await post(CLICK, `Bearer ${a.key}`, '/api/as/v1/engines/parks/search'), 404, ['No route for POST /api/as/v1/engines/parks/search']],
    ['a long engine', await post(CLICK, `Bearer ${a.key}`, `/api/as/v1/engines/${'e'.repeat(129)}/click`), 414, /max param length/],
  ]
  for (const [name, reply, status, errors] of cases) {
    t.equal(reply.statusCode, status, name)
    const body = reply.json()
    if (Array.isArray(errors)) t.same(body, { errors }, name)
    else t.match(body, { errors: [errors] }, name)
    t.same(Object.keys(body), ['errors'], `${name}: only errors`)
  }
  const get = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${a.key}` } })
  t.equal(get.statusCode, 404)
  t.match(get.json(), { errors: [String] })
  const badUrl = await app.inject({ method: 'POST', url: '/api/as/v1/%E0%A4%A' })
  t.equal(badUrl.statusCode, 400)
  t.match(badUrl.json(), { errors: [String] })
  t.equal((await storedEvents(app, 'acme')).length + (await storedEvents(app, 'beta')).length, 0)
  t.equal((await post(CLICK, `Bearer ${b.key}`)).statusCode, 200, 'org B\'s key writes into org B')
  t.equal((await storedEvents(app, 'beta')).length, 1)
})

t.test('query over 500 characters is cut', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const reply = await app.inject({ method: 'POST', url: '/api/as/v1/engines/e/click', headers: { authorization: `Bearer ${key}` }, payload: { query: 'q'.repeat(600), document_id: 'd' } })
  t.equal(reply.statusCode, 200)
  t.equal(((await storedEvents(app))[0]!.query_text as string).length, 500)
})
