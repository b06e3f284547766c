import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'
import { storedEvents } from '../coveo/helpers.js'
import { CLIENT_ID, PAYLOADS, RESPONSE_ID, STORED, event, meta } from './samples.js'

const PATH = '/rest/organizations/acme/events/v1'

t.test('the wire samples: a Headless beacon click, a relay purchase and a relay custom event', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')

  // Headless 4 / relay 1.2.6: sendBeacon, token in the query, an application/json Blob.
  const beacon = await app.inject({
    method: 'POST',
    url: `${PATH}?access_token=${key}`,
    headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:18422' },
    payload: '[{"responseId":"d2219762-4158-47c8-9166-4aa41475ae96","position":2,"itemMetadata":{"uniqueFieldName":"permanentid","uniqueFieldValue":"perm-2","title":"Result 2","author":"Ann Author","url":"https://ex.com/doc-2"},"meta":{"type":"itemClick","config":{"trackingId":"compat_site"},"ts":1796154526314,"source":["@coveo/headless@4.0.0","relay@1.2.6"],"clientId":"7e15080f-6e73-4a6d-8b55-e90e2cc2068d","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36","referrer":null,"location":"http://127.0.0.1:18422/h"}}]',
  })
  t.equal(beacon.statusCode, 200)
  t.match(beacon.headers['content-type'], /^application\/json/)
  t.same(beacon.json(), { events: [{ accepted: true }] })

  // Relay 2.1.1: fetch with a Bearer token.
  const purchase = await app.inject({
    method: 'POST',
    url: PATH,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload: '[{"currency":"USD","products":[{"product":{"productId":"sku-7","name":"P7","price":7},"quantity":1}],"transaction":{"id":"tx-relay-crrec-1796154555118","revenue":7},"meta":{"type":"ec.purchase","config":{"trackingId":"compat_relay"},"ts":1796154567315,"source":["compat-test@1","relay@2.1.1"],"clientId":"9abdbd84-bf1b-463b-bf09-d1856ed5aae8","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36","referrer":null,"location":"http://127.0.0.1:18422/r"}}]',
  })
  t.same(purchase.json(), { events: [{ accepted: true }] })

  const custom = await app.inject({
    method: 'POST',
    url: PATH,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload: '[{"anything":"goes","Key With Space":1,"tag":"crrec-1796154555118","meta":{"type":"custom.compatEvent","config":{"trackingId":"compat_relay"},"ts":1796154567375,"source":["compat-test@1","relay@2.1.1"],"clientId":"9abdbd84-bf1b-463b-bf09-d1856ed5aae8","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36","referrer":null,"location":"http://127.0.0.1:18422/r"}}]',
  })
  t.same(custom.json(), { events: [{ accepted: true }] })

  const [click, buy, other] = await storedEvents(app)
  t.match(click, {
    protocol: 'coveo-events', type: 'click', event_type: 'itemClick', visitor_id: CLIENT_ID, tracking_id: 'compat_site',
    search_query_uid: RESPONSE_ID, document_position: 2, document_id: 'perm-2', document_title: 'Result 2', document_url: 'https://ex.com/doc-2',
    username: 'anonymous', origin_level3: null, client_ip: '127.0.0.0', browser: /^Chrome/,
    extra: { clientTs: 1796154526314, source: ['@coveo/headless@4.0.0', 'relay@1.2.6'], location: 'http://127.0.0.1:18422/h', contentIdKey: 'permanentid', documentAuthor: 'Ann Author' },
  })
  t.ok(click!.visit_id, 'the writer assigned a visit')
  t.match(buy, {
    type: 'commerce', event_type: 'ec.purchase', currency: 'USD', revenue: '7', transaction_id: 'tx-relay-crrec-1796154555118', tracking_id: 'compat_relay',
    visitor_id: '9abdbd84-bf1b-463b-bf09-d1856ed5aae8', extra: { products: [{ product: { productId: 'sku-7', name: 'P7', price: 7 }, quantity: 1 }] },
  })
  t.match(other, { type: 'custom', event_type: 'custom.compatEvent', event_value: null, custom_data: { anything: 'goes', key_with_space: 1, tag: 'crrec-1796154555118' } })
})

t.test('every catalogue type is accepted and stored as the mapping says', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const types = Object.keys(PAYLOADS)
  const reply = await app.inject({
    method: 'POST',
    url: PATH,
    headers: { authorization: `Bearer ${key}` },
    payload: types.map((type) => event(type)),
  })
  t.equal(reply.statusCode, 200)
  t.same(reply.json(), { events: types.map(() => ({ accepted: true })) })
  const rows = await storedEvents(app)
  t.equal(rows.length, types.length)
  for (const [i, type] of types.entries()) {
    const row = rows[i]!
    t.match(row, { event_type: type, ...STORED[type] }, type)
    if ('itemMetadata' in PAYLOADS[type]!) t.match(row, { document_id: 'perm-2', document_title: 'Result 2', document_url: 'https://ex.com/doc-2', extra: { contentIdKey: 'permanentid' } }, `${type}: the item`)
  }
  const byType = Object.fromEntries(rows.map((r) => [r.event_type as string, r]))
  t.match(byType['ec.productView'], { document_id: 'sku-7', document_title: 'P7', price: '7.25', currency: 'USD', quantity: null })
  t.match(byType['ec.productClick'], { search_query_uid: RESPONSE_ID, document_position: 3, price: '7.25' })
  t.match(byType['ec.cartAction'], { quantity: '2', currency: 'EUR', price: '7.25', document_id: 'sku-7' })
  t.match(byType['CaseAssist.DocumentSuggestionClick'], { last_search_query_uid: RESPONSE_ID, search_query_uid: null, document_position: 1 })
  t.match(byType['InsightPanel.ItemAction'], { last_search_query_uid: RESPONSE_ID, document_position: 4, extra: { context: { targetId: 'case-1', targetType: 'Case' } } })
  t.notOk('action' in (byType['InsightPanel.ItemAction']!.extra as object), 'a field copied to eventValue is not repeated in extra')
  t.match(byType['Rga.CitationHover'], { extra: { answerId: 'ans-1', citationHoverTimeInMs: 850 } })
  t.match(byType['Rga.SubmitFeedback'], { extra: { details: { readable: true, hallucinationFree: false }, additionalNotes: 'meh', helpful: false } })
  t.match(byType['CaseAssist.CreateTicket'], { extra: { ticket: { id: 'T-1', subject: 'Printer on fire' } } })
})

t.test('a batch with one bad event stores the good ones and says which was refused and why', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const reply = await app.inject({
    method: 'POST',
    url: PATH,
    headers: { authorization: `Bearer ${key}` },
    payload: [event('itemView'), { ...event('itemClick'), position: 0 }, 'not an event', event('ec.cartAction')],
  })
  t.equal(reply.statusCode, 200)
  t.same(reply.json(), {
    events: [
      { accepted: true },
      { accepted: false, errorCode: 'InvalidObject', errorMessage: 'Field "position" must be an integer from 1 to 32767' },
      { accepted: false, errorCode: 'InvalidObject', errorMessage: 'The event must be a JSON object, got a string' },
      { accepted: true },
    ],
  })
  t.same((await storedEvents(app)).map((r) => r.event_type), ['itemView', 'ec.cartAction'])
})

t.test('paths: Coveo\'s own, the short one, one proxy segment, each with or without a trailing slash; 405 for other methods', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const auth = { authorization: `Bearer ${key}` }
  for (const base of [PATH, '/events/v1', '/analytics/rest/organizations/acme/events/v1', '/proxy/events/v1']) for (const url of [base, `${base}/`]) {
    const reply = await app.inject({ method: 'POST', url, headers: auth, payload: [event('itemView')] })
    t.same([reply.statusCode, reply.json()], [200, { events: [{ accepted: true }] }], url)
  }
  const deeper = await app.inject({ method: 'POST', url: '/a/b/events/v1', headers: auth, payload: [event('itemView')] })
  t.equal(deeper.statusCode, 404, 'a deeper prefix is not routed')
  t.match(deeper.json(), { message: String, type: 'NotFound' })

  for (const [method, url] of [['GET', PATH], ['PUT', '/events/v1'], ['DELETE', `${PATH}/validate`], ['GET', '/p/events/v1/analytics/search/validate']] as const) {
    const reply = await app.inject({ method, url, headers: auth })
    t.equal(reply.statusCode, 405, `${method} ${url}`)
    t.equal(reply.headers.allow, 'POST, OPTIONS')
    t.match(reply.json(), { type: 'MethodNotAllowed', message: String })
  }
  for (const url of [`${PATH}/nothing`, `${PATH}/x/`]) {
    const unknown = await app.inject({ method: 'POST', url, headers: auth, payload: [] })
    t.equal(unknown.statusCode, 404, url)
    t.match(unknown.json(), { type: 'NotFound' })
  }
  t.equal((await storedEvents(app)).length, 8)
})

t.test('authentication and organizations', async (t) => {
  const { app } = await buildTestApp(t)
  const a = await createKey(app, 'acme')
  const b = await createKey(app, 'beta')
  const platform = await createKey(app, 'ops', ['analytics:push'], ['*'])
  const reader = await createKey(app, 'acme', ['analytics:read'])
  const body = [event('itemView')]
  const post = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, headers, payload: body })

  const cases: Array<[string, Awaited<ReturnType<typeof post>>, number, string]> = [
    ['no token', await post(PATH), 401, 'MissingToken'],
    ['unknown token', await post(PATH, { authorization: 'Bearer st_0000000000000000_nope' }), 401, 'InvalidToken'],
    ['not a Bearer header', await post(PATH, { authorization: `Basic ${a.key}` }), 401, 'InvalidToken'],
    ['org A key into org B', await post(`/rest/organizations/beta/events/v1?access_token=${a.key}`), 403, 'Forbidden'],
    ['org A key into org B, header', await post('/rest/organizations/beta/events/v1', { authorization: `Bearer ${a.key}` }), 403, 'Forbidden'],
    ['no analytics:push', await post(PATH, { authorization: `Bearer ${reader.key}` }), 403, 'Forbidden'],
    ['platform key, short path, no org', await post('/events/v1', { authorization: `Bearer ${platform.key}` }), 400, 'OrgRequired'],
  ]
  for (const [name, reply, status, type] of cases) {
    t.equal(reply.statusCode, status, name)
    t.match(reply.json(), { type, message: String }, name)
  }
  t.equal((await storedEvents(app, 'beta')).length, 0, 'nothing was written into org B')
  t.equal((await storedEvents(app, 'acme')).length, 0)

  // The header wins over the query; a platform key names the org by the path (or ?org=).
  t.equal((await post(`${PATH}?access_token=st_0000000000000000_nope`, { authorization: `Bearer ${a.key}` })).statusCode, 200)
  t.equal((await post('/rest/organizations/beta/events/v1', { authorization: `Bearer ${platform.key}` })).statusCode, 200)
  t.equal((await post('/events/v1?org=beta', { authorization: `Bearer ${platform.key}` })).statusCode, 200)
  t.equal((await post('/events/v1', { authorization: `Bearer ${b.key}` })).statusCode, 200)
  t.equal((await storedEvents(app, 'beta')).length, 3)

  // Per-org allowed origins are checked on the POST.
  await app.keys.updateOrg('acme', { allowedOrigins: ['https://shop.example'] })
  const evil = await post(PATH, { authorization: `Bearer ${a.key}`, origin: 'https://evil.example' })
  t.equal(evil.statusCode, 403)
  t.match(evil.json(), { type: 'OriginNotAllowed' })
})

t.test('request-level refusals store nothing', async (t) => {
  const { app } = await buildTestApp(t, { env: { BODY_LIMIT_BYTES: '20000', JSON_MAX_DEPTH: '8' } })
  const { key } = await createKey(app, 'acme')
  const send = (payload: string | Buffer, contentType = 'application/json') =>
    app.inject({ method: 'POST', url: PATH, headers: { authorization: `Bearer ${key}`, 'content-type': contentType }, payload })
  const cases: Array<[string, string | Buffer, string, number, string]> = [
    ['broken JSON', '[{"meta":', 'application/json', 400, 'InvalidJson'],
    ['an object', JSON.stringify(event('itemView')), 'application/json', 400, 'InvalidObject'],
    ['an empty array', '[]', 'application/json', 400, 'InvalidObject'],
    ['101 events', JSON.stringify(Array.from({ length: 101 }, () => ({}))), 'application/json', 400, 'InvalidObject'],
    ['too deep', '[' + '['.repeat(20) + ']'.repeat(20) + ']', 'application/json', 400, 'JsonTooDeep'],
    ['bad UTF-8', Buffer.from([0x5b, 0x22, 0xe9, 0x22, 0x5d]), 'application/json', 400, 'InvalidEncoding'],
    ['too deep as text/plain', '[' + '['.repeat(20) + ']'.repeat(20) + ']', 'text/plain', 400, 'JsonTooDeep'],
    ['prototype pollution as text/plain', '[{"__proto__":{"x":1}}]', 'text/plain', 400, 'InvalidJson'],
    ['too large', JSON.stringify([{ x: 'y'.repeat(30000) }]), 'application/json', 413, 'PayloadTooLarge'],
    ['XML', '<events/>', 'application/xml', 415, 'UnsupportedMediaType'],
  ]
  for (const [name, payload, type, status, code] of cases) {
    const reply = await send(payload, type)
    t.equal(reply.statusCode, status, name)
    t.match(reply.json(), { type: code, message: String }, name)
  }
  const text = await send(JSON.stringify([event('itemView')]), 'text/plain;charset=UTF-8')
  t.same(text.json(), { events: [{ accepted: true }] }, 'text/plain holding JSON is accepted')
  t.equal((await storedEvents(app)).length, 1)
})

t.test('identity from a search token; meta.referrer and meta.userAgent', async (t) => {
  const { app } = await buildTestApp(t)
  await createKey(app, 'acme')
  const token = await app.auth.signSearchToken('acme', { userIds: [{ name: 'alice@acme.com' }], searchHub: 'Support', pipeline: 'p1', userDisplayName: 'Alice' }, 600)
  const longReferrer = 'https://ref.example/' + 'r'.repeat(300)
  const reply = await app.inject({
    method: 'POST',
    url: `${PATH}?access_token=${token}`,
    headers: { 'user-agent': 'curl/8.0' },
    payload: [event('itemView', undefined, { referrer: longReferrer, userAgent: undefined }), event('itemView', undefined, { referrer: 'https://a.example/' })],
  })
  t.same(reply.json(), { events: [{ accepted: true }, { accepted: true }] })
  const [first, second] = await storedEvents(app)
  t.match(first, { username: 'alice@acme.com', user_display_name: 'Alice', origin_level1: 'Support', query_pipeline: 'p1', user_agent: 'curl/8.0', origin_level3: longReferrer.slice(0, 128), extra: { referrer: longReferrer } })
  t.match(second, { origin_level3: 'https://a.example/', user_agent: /HeadlessChrome/ })
})

t.test('meta rules', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const verdict = async (item: unknown) => {
    const reply = await app.inject({ method: 'POST', url: PATH, headers: { authorization: `Bearer ${key}` }, payload: [item] })
    t.equal(reply.statusCode, 200)
    return reply.json().events[0]
  }
  const view = PAYLOADS.itemView!
  const refused: Array<[string, unknown, string, string]> = [
    ['no meta', { ...view }, 'MissingParameter', 'Field "meta" is required'],
    ['meta not an object', { ...view, meta: [] }, 'InvalidObject', 'Field "meta" must be a JSON object, got an array'],
    ['no type', { ...view, meta: meta(undefined as never) }, 'MissingParameter', 'Field "meta.type" is required'],
    ['empty type', { ...view, meta: meta('') }, 'InvalidObject', 'Field "meta.type" must be a string of 1 to 128 characters'],
    ['type over 128', { ...view, meta: meta('a'.repeat(129)) }, 'InvalidObject', 'Field "meta.type" must be a string of 1 to 128 characters'],
    ['no ts', { ...view, meta: meta('itemView', { ts: undefined }) }, 'MissingParameter', 'Field "meta.ts" is required'],
    ['ts before 2020', { ...view, meta: meta('itemView', { ts: 1_500_000_000_000 }) }, 'InvalidObject', 'Field "meta.ts" must be an integer from 1577836800000 to 9007199254740991'],
    ['ts as a string', { ...view, meta: meta('itemView', { ts: '1796154526314' }) }, 'InvalidObject', 'Field "meta.ts" must be an integer from 1577836800000 to 9007199254740991'],
    ['no clientId', { ...view, meta: meta('itemView', { clientId: undefined }) }, 'MissingParameter', 'Field "meta.clientId" is required'],
    ['empty clientId', { ...view, meta: meta('itemView', { clientId: '' }) }, 'InvalidObject', 'Field "meta.clientId" must be a string of 1 to 128 characters'],
    ['trackingId a number', { ...view, meta: meta('itemView', { config: { trackingId: 5 } }) }, 'InvalidObject', 'Field "meta.config.trackingId" must be a string, got a number'],
    ['source not strings', { ...view, meta: meta('itemView', { source: [1] }) }, 'InvalidObject', 'Field "meta.source[0]" must be a string, got a number'],
    ['a typo in a reserved namespace', { ...view, meta: meta('ec.productClik') }, 'InvalidEventType', 'Unknown event type "ec.productClik": the "ec" namespace is reserved for the catalogue\'s types'],
    ['the wrong case', { ...view, meta: meta('rga.answeraction') }, 'InvalidEventType', 'Unknown event type "rga.answeraction": the "rga" namespace is reserved for the catalogue\'s types'],
    ['itemclick', { ...view, meta: meta('itemclick') }, 'InvalidEventType', 'Unknown event type "itemclick": the name is reserved for the catalogue\'s types'],
    ['a custom name with a space', { ...view, meta: meta('my event') }, 'InvalidEventType', 'Event type "my event" must start with a letter and hold only letters, digits and _ . : - (at most 128 characters)'],
    ['custom keys that collide', { 'a b': 1, a_b: 2, meta: meta('myEvent') }, 'InvalidObject', 'customData keys "a b" and "a_b" collide once normalized to "a_b"'],
  ]
  for (const [name, item, code, message] of refused) t.same(await verdict(item), { accepted: false, errorCode: code, errorMessage: message }, name)
  t.equal((await storedEvents(app)).length, 0, 'nothing stored on refusal')

  const accepted: Array<[string, unknown]> = [
    ['trackingId null (Headless without one)', { ...view, meta: meta('itemView', { config: { trackingId: null } }) }],
    ['no config', { ...view, meta: meta('itemView', { config: undefined }) }],
    ['a long clientId is cut', { ...view, meta: meta('itemView', { clientId: 'c'.repeat(300) }) }],
    ['unknown meta keys', { ...view, meta: meta('itemView', { extraThing: 1 }), unknownTop: 'kept' }],
  ]
  for (const [name, item] of accepted) t.same(await verdict(item), { accepted: true }, name)
  const rows = await storedEvents(app)
  t.same(rows.map((r) => r.tracking_id), [null, null, 'compat_site', 'compat_site'])
  t.equal(rows[2]!.visitor_id, 'c'.repeat(128))
  t.match(rows[3]!.extra, { meta: { extraThing: 1 }, unknownTop: 'kept' })
})
