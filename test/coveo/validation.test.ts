import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'
import { CLICK, CUSTOM, SEARCH, VIEW, storedEvents } from './helpers.js'

const BODIES = { search: SEARCH, click: CLICK, custom: CUSTOM, view: VIEW } as const
type Kind = keyof typeof BODIES

t.test('validation: status, JSON body and nothing stored on refusal; truncation stored', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const post = (type: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/${type}?visitor=v1`, headers: { authorization: `Bearer ${key}`, ...headers }, payload: payload as object })

  const required: Record<Kind, string[]> = {
    search: ['actionCause', 'language', 'queryText', 'responseTime', 'searchQueryUid'],
    click: ['actionCause', 'documentPosition', 'language', 'searchQueryUid', 'sourceName'],
    custom: ['eventType', 'eventValue', 'language'],
    view: ['location'],
  }
  for (const [type, fields] of Object.entries(required) as Array<[Kind, string[]]>) {
    for (const field of fields) {
      for (const absent of [undefined, null]) {
        const body: Record<string, unknown> = { ...BODIES[type] }
        if (absent === undefined) delete body[field]
        else body[field] = null
        const res = await post(type, body)
        t.equal(res.statusCode, 400, `${type} without ${field} (${absent})`)
        t.equal(res.json().type, 'MissingParameter')
        t.match(res.json().message, `"${field}"`, 'the message names the field')
      }
    }
  }
  t.equal((await post('search', { ...SEARCH, queryText: '' })).statusCode, 200, 'queryText may be empty')
  t.equal((await post('view', { ...VIEW })).statusCode, 200, 'language is optional for views')

  const typeErrors: Array<[Kind, string, unknown]> = [
    ['search', 'outcome', '3'],
    ['search', 'outcome', 6],
    ['search', 'outcome', -6],
    ['search', 'outcome', 1.5],
    ['search', 'responseTime', -1],
    ['search', 'responseTime', '123'],
    ['search', 'numberOfResults', -3],
    ['search', 'numberOfResults', 2 ** 31],
    ['search', 'anonymous', 'false'],
    ['search', 'queryText', 42],
    ['search', 'language', ['en']],
    ['search', 'customData', 'x'],
    ['search', 'customData', []],
    ['search', 'facetState', {}],
    ['click', 'documentPosition', 0],
    ['click', 'documentPosition', '1'],
    ['click', 'sourceName', { a: 1 }],
    ['custom', 'eventType', true],
    ['view', 'location', 1],
    ['view', 'clientId', 5],
  ]
  for (const [type, field, value] of typeErrors) {
    const res = await post(type, { ...BODIES[type], [field]: value })
    t.equal(res.statusCode, 400, `${type}.${field} = ${JSON.stringify(value)}`)
    t.same(Object.keys(res.json()).sort(), ['message', 'type'])
    t.equal(res.json().type, 'InvalidObject')
    t.match(res.json().message, `"${field}"`)
  }
  const facet = await post('search', { ...SEARCH, facetState: [{ field: 'a', id: 'a', value: 'b', state: 'selected' }] })
  t.equal(facet.statusCode, 400)
  t.same(facet.json(), { message: 'Field "facetState[0].facetType" is required', type: 'MissingParameter' })
  const contentId = await post('click', { ...CLICK, customData: { contentIDValue: 7 } })
  t.equal(contentId.json().type, 'InvalidObject')
  t.match(contentId.json().message, 'customData.contentIDValue')

  for (const [payload, contentType] of [['{"language":', 'application/json'], ['', 'application/json']] as const) {
    const res = await post('search', payload, { 'content-type': contentType })
    t.equal(res.statusCode, 400)
    t.equal(res.json().type, 'InvalidJson', `broken JSON ${JSON.stringify(payload)}`)
  }
  const formBroken = await post('click', 'clickEvent=%7Bnope', { 'content-type': 'application/x-www-form-urlencoded' })
  t.same(formBroken.json(), { message: 'Form field "clickEvent" is not valid JSON', type: 'InvalidJson' })
  const formMissing = await post('click', 'searchEvent=%7B%7D', { 'content-type': 'application/x-www-form-urlencoded' })
  t.same(formMissing.json(), { message: 'Form field "clickEvent" is required', type: 'MissingParameter' })
  t.equal((await post('search', [SEARCH])).json().type, 'InvalidObject', 'an array where an object is expected')
  t.equal((await post('searches', SEARCH)).json().type, 'InvalidObject', 'an object where the batch array is expected')
  const batch = await post('searches', [SEARCH, { ...SEARCH, responseTime: 'x' }])
  t.match(batch.json(), { type: 'InvalidObject', message: /^Search event 1: .*"responseTime"/ })
  const xml = await post('search', '<search/>', { 'content-type': 'application/xml' })
  t.equal(xml.statusCode, 415)
  t.equal(xml.json().type, 'UnsupportedMediaType')

  t.equal((await storedEvents(app)).length, 2, 'refused requests stored nothing')
})

t.test('truncation: long strings are cut to their column length, stored, and logged', async (t) => {
  // What the handlers log about truncation, caught on each request's logger.
  const logs: string[] = []
  const { app } = await buildTestApp(t, {
    beforeRegister: (server) =>
      server.addHook('onRequest', async (request) => {
        const info = request.log.info.bind(request.log)
        request.log.info = ((obj: unknown, ...rest: unknown[]) => {
          if (typeof obj === 'object' && obj !== null && 'truncated' in obj) logs.push(JSON.stringify(obj))
          return (info as (...a: unknown[]) => void)(obj, ...rest)
        }) as typeof request.log.info
      }),
  })
  const { key } = await createKey(app, 'acme')
  const long = (n: number) => 'x'.repeat(n + 10)
  const cases: Array<[Kind, string, number, string]> = [
    ['search', 'searchQueryUid', 36, 'search_query_uid'],
    ['search', 'queryText', 500, 'query_text'],
    ['search', 'advancedQuery', 2048, 'advanced_query'],
    ['search', 'actionCause', 64, 'action_cause'],
    ['search', 'language', 256, 'language'],
    ['search', 'originLevel1', 128, 'origin_level1'],
    ['search', 'originLevel2', 128, 'origin_level2'],
    ['search', 'originLevel3', 128, 'origin_level3'],
    ['search', 'originContext', 128, 'origin_context'],
    ['search', 'queryPipeline', 128, 'query_pipeline'],
    ['search', 'userDisplayName', 128, 'user_display_name'],
    ['search', 'userAgent', 1024, 'user_agent'],
    ['search', 'clientId', 128, 'visitor_id'],
    ['click', 'sourceName', 512, 'source_name'],
    ['click', 'documentTitle', 1024, 'document_title'],
    ['click', 'documentUrl', 1024, 'document_url'],
    ['custom', 'eventType', 128, 'event_type'],
    ['custom', 'eventValue', 128, 'event_value'],
    ['custom', 'lastSearchQueryUid', 36, 'last_search_query_uid'],
    ['view', 'location', 1024, 'document_url'],
    ['view', 'contentIdValue', 512, 'document_id'],
  ]
  for (const [type, field, max, column] of cases) {
    await app.db.query('DELETE FROM events')
    const res = await app.inject({
      method: 'POST', url: `/rest/ua/v15/analytics/${type}`, headers: { authorization: `Bearer ${key}` },
      payload: { ...BODIES[type], [field]: long(max) },
    })
    t.equal(res.statusCode, 200, `${type}.${field}`)
    const [row] = await storedEvents(app)
    t.equal((row![column] as string).length, max, `${field} stored at ${max} characters`)
    t.ok(logs.some((l) => l.includes(`"${field}"`)), `the log names ${field}`)
  }
  // Fields without a column of their own are truncated in `extra`.
  for (const [type, field, max] of [['click', 'documentAuthor', 128], ['search', 'splitTestRunName', 128], ['view', 'contentIdKey', 128]] as const) {
    await app.db.query('DELETE FROM events')
    await app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/${type}`, headers: { authorization: `Bearer ${key}` }, payload: { ...BODIES[type], [field]: long(max) } })
    const [row] = await storedEvents(app)
    t.equal(((row!.extra as Record<string, string>)[field])!.length, max, `extra.${field} at ${max}`)
  }
  await app.db.query('DELETE FROM events')
  await app.inject({
    method: 'POST', url: '/rest/ua/v15/analytics/click', headers: { authorization: `Bearer ${key}` },
    payload: { ...CLICK, customData: { contentIDKey: long(128), contentIDValue: long(512) } },
  })
  const [click] = await storedEvents(app)
  t.equal((click!.document_id as string).length, 512, 'contentIDValue 512')
  t.equal(((click!.custom_data as Record<string, string>).contentidkey)!.length, 128, 'contentIDKey 128')
  // The visitor parameter is truncated the same way.
  await app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/custom?visitor=${'v'.repeat(300)}`, headers: { authorization: `Bearer ${key}` }, payload: CUSTOM })
  t.equal((await storedEvents(app)).at(-1)!.visitor_id, 'v'.repeat(128))
  // customData over 32,500 characters of JSON keeps its first keys.
  await app.db.query('DELETE FROM events')
  const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'y'.repeat(1000)]))
  const res = await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/custom', headers: { authorization: `Bearer ${key}` }, payload: { ...CUSTOM, customData: big } })
  t.equal(res.statusCode, 200)
  const [capped] = await storedEvents(app)
  const keys = Object.keys(capped!.custom_data as object)
  t.ok(keys.length > 0 && keys.length < 40, `kept ${keys.length} of 40 keys`)
  t.ok(JSON.stringify(capped!.custom_data).length <= 32_500)
  t.ok(logs.some((l) => l.includes('customData.k39')), 'the dropped keys are logged')
})

t.test('customData: keys normalized, values kept as JSON; empty and colliding keys refused', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const post = (customData: unknown) =>
    app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/custom', headers: { authorization: `Bearer ${key}` }, payload: { ...CUSTOM, customData } })
  const ok = await post({ 'Context Role': 'dev', 'Ünïcode-Key!': 1, list: ['a', 'b'], nested: { A: 1 }, nothing: null, TAB_key: true })
  t.equal(ok.statusCode, 200)
  const [row] = await storedEvents(app)
  t.same(row!.custom_data, { context_role: 'dev', ncodekey: 1, list: ['a', 'b'], nested: { A: 1 }, nothing: null, tab_key: true })

  const refusals: Array<[unknown, string]> = [
    [{ '!!!': 'x' }, 'customData key "!!!" has no letter, digit or underscore'],
    [{ '': 'x' }, 'customData key "" has no letter, digit or underscore'],
    [{ FacetId: 'a', facetid: 'b' }, 'customData keys "FacetId" and "facetid" collide once normalized to "facetid"'],
    [{ 'a b': 1, a_b: 2 }, 'customData keys "a b" and "a_b" collide once normalized to "a_b"'],
  ]
  for (const [customData, message] of refusals) {
    const res = await post(customData)
    t.equal(res.statusCode, 400)
    t.same(res.json(), { message, type: 'InvalidObject' })
  }
  t.equal((await storedEvents(app)).length, 1)
})

t.test('unknown keys are kept in extra; user agent from body or header', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const headers = { authorization: `Bearer ${key}`, 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1' }
  await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers, payload: { ...SEARCH, pageNumber: 2, resultsPerPage: 10, device: 'x', results: [{ documentUri: 'u' }] } })
  await app.inject({ method: 'POST', url: '/rest/ua/v15/analytics/search', headers, payload: { ...SEARCH, userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' } })
  const [a, b] = await storedEvents(app)
  t.match(a!.extra, { pageNumber: 2, resultsPerPage: 10, device: 'x', results: [{ documentUri: 'u' }] })
  t.match(a, { device_category: 'mobile', os: 'iOS 17.0', is_bot: false })
  t.match(b, { user_agent: 'Googlebot/2.1 (+http://www.google.com/bot.html)', is_bot: true, device_category: 'bot' })
})

t.test('every error is a JSON {message, type}, including 413', async (t) => {
  const { app } = await buildTestApp(t, { env: { BODY_LIMIT_BYTES: '2048' } })
  const { key } = await createKey(app, 'acme')
  const res = await app.inject({
    method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { authorization: `Bearer ${key}` },
    payload: { ...SEARCH, queryText: 'x'.repeat(5000) },
  })
  t.equal(res.statusCode, 413)
  t.same(Object.keys(res.json()).sort(), ['message', 'type'])
  const beacon = await app.inject({
    method: 'POST', url: `/rest/ua/v15/analytics/click?access_token=${key}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `clickEvent=${'x'.repeat(5000)}`,
  })
  t.equal(beacon.statusCode, 413)
  t.equal(beacon.json().type, 'PayloadTooLarge')
})
