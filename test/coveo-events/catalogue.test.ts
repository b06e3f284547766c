import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'
import { storedEvents } from '../coveo/helpers.js'
import { PAYLOADS, REQUIRED, event, meta, withField, without } from './samples.js'

const PATH = '/rest/organizations/acme/events/v1'

// Every required field of every type, deleted one at a time (and then set to null), is refused as
// MissingParameter naming it; limits are refused as InvalidObject; nothing refused is stored.
t.test('required fields and limits of every event type', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const items: unknown[] = []
  const expected: unknown[] = []
  for (const [type, fields] of Object.entries(REQUIRED)) {
    for (const field of fields) {
      const message = `Field "${field}" is required`
      items.push(without(event(type), field))
      expected.push({ accepted: false, errorCode: 'MissingParameter', errorMessage: message })
      items.push(withField(event(type), field, null))
      expected.push({ accepted: false, errorCode: 'MissingParameter', errorMessage: message })
    }
  }
  const click = event('itemClick')
  const limits: Array<[string, Record<string, unknown>, string]> = [
    ['position 0', withField(click, 'position', 0), 'Field "position" must be an integer from 1 to 32767'],
    ['position 32768', withField(click, 'position', 32768), 'Field "position" must be an integer from 1 to 32767'],
    ['position 1.5', withField(click, 'position', 1.5), 'Field "position" must be an integer from 1 to 32767'],
    ['position "2"', withField(click, 'position', '2'), 'Field "position" must be an integer from 1 to 32767'],
    ['responseId over 128', withField(click, 'responseId', 'r'.repeat(129)), 'Field "responseId" must be at most 128 characters long'],
    ['responseId a number', withField(click, 'responseId', 5), 'Field "responseId" must be a string, got a number'],
    ['itemMetadata an array', withField(click, 'itemMetadata', []), 'Field "itemMetadata" must be a JSON object, got an array'],
    ['uniqueFieldValue a number', withField(click, 'itemMetadata.uniqueFieldValue', 3), 'Field "itemMetadata.uniqueFieldValue" must be a string, got a number'],
    ['negative price', withField(event('ec.productView'), 'product.price', -1), 'Field "product.price" must be a number of 0 or more'],
    ['price as a string', withField(event('ec.productView'), 'product.price', '7'), 'Field "product.price" must be a finite number, got a string'],
    ['lower-case currency', withField(event('ec.productView'), 'currency', 'usd'), 'Field "currency" must be a 3-letter upper-case currency code such as USD, got "usd"'],
    ['cart action "update"', withField(event('ec.cartAction'), 'action', 'update'), 'Field "action" must be one of add, remove, got "update"'],
    ['quantity 0', withField(event('ec.cartAction'), 'quantity', 0), 'Field "quantity" must be a number greater than 0'],
    ['products not an array', withField(event('ec.purchase'), 'products', {}), 'Field "products" must be an array, got an object'],
    ['a product quantity of -1', withField(event('ec.purchase'), 'products[0].quantity', -1), 'Field "products[0].quantity" must be a number greater than 0'],
    ['revenue as a string', withField(event('ec.purchase'), 'transaction.revenue', '7'), 'Field "transaction.revenue" must be a finite number, got a string'],
    ['liked as a string', withField(event('CaseAssist.DocumentSuggestionFeedback'), 'liked', 'yes'), 'Field "liked" must be a boolean, got a string'],
    ['an empty action label', withField(event('Rga.AnswerAction'), 'action', ''), 'Field "action" must be a string of 1 to 128 characters'],
    ['a label over 128', withField(event('SmartSnippets.SourceClick'), 'snippetType', 's'.repeat(129)), 'Field "snippetType" must be a string of 1 to 128 characters'],
    ['hover time negative', withField(event('Rga.CitationHover'), 'citationHoverTimeInMs', -5), 'Field "citationHoverTimeInMs" must be a number of 0 or more'],
    ['details not an object', withField(event('Rga.SubmitFeedback'), 'details', true), 'Field "details" must be a JSON object, got a boolean'],
    ['a detail not a boolean', withField(event('Rga.SubmitFeedback'), 'details.readable', 1), 'Field "details.readable" must be a boolean, got a number'],
    ['answerId over 128', withField(event('Rga.AnswerReceived'), 'answerId', 'a'.repeat(129)), 'Field "answerId" must be at most 128 characters long'],
  ]
  for (const [, item, message] of limits) {
    items.push(item)
    expected.push({ accepted: false, errorCode: 'InvalidObject', errorMessage: message })
  }
  // itemClick needs responseId or searchUid.
  items.push(without(click, 'responseId'))
  expected.push({ accepted: false, errorCode: 'MissingParameter', errorMessage: 'Field "responseId" is required' })
  t.ok(items.length > 100, `${items.length} refusals`)

  // At most 100 elements a request.
  const verdicts: unknown[] = []
  for (let i = 0; i < items.length; i += 100) {
    const reply = await app.inject({ method: 'POST', url: PATH, headers: { authorization: `Bearer ${key}` }, payload: items.slice(i, i + 100) })
    t.equal(reply.statusCode, 200)
    verdicts.push(...reply.json().events)
  }
  for (let i = 0; i < items.length; i++) t.same(verdicts[i], expected[i], JSON.stringify(expected[i]))
  t.equal((await storedEvents(app)).length, 0, 'nothing refused was stored')
})

t.test('what is accepted at the edges: empty ids, searchUid, optional fields, long strings cut', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const long = 'x'.repeat(5000)
  const items = [
    withField(event('itemClick'), 'responseId', ''), // Headless, for a result without searchUid
    { ...without(event('itemClick'), 'responseId'), searchUid: 'legacy-uid' },
    withField(event('Rga.AnswerAction'), 'answerId', ''),
    withField(withField(event('itemClick'), 'itemMetadata.title', long), 'itemMetadata.url', long),
    event('SmartSnippets.SubmitFeedback', { ...PAYLOADS['SmartSnippets.SubmitFeedback'], reason: 'doesNotAnswer', additionalNotes: 'n' }),
    withField(event('ec.cartAction'), 'quantity', 0.5),
    withField(event('ec.productView'), 'product.price', 0),
    { ...event('itemView'), meta: meta('itemView', { userAgent: long, location: long }) },
    withField(event('Rga.AnswerAction'), 'action', 'aNewerAction'),
  ]
  const reply = await app.inject({ method: 'POST', url: PATH, headers: { authorization: `Bearer ${key}` }, payload: items })
  t.same(reply.json(), { events: items.map(() => ({ accepted: true })) })
  const rows = await storedEvents(app)
  t.equal(rows[0]!.search_query_uid, null, 'an empty responseId is stored as null')
  t.equal(rows[1]!.search_query_uid, 'legacy-uid', 'searchUid is the deprecated name of responseId')
  t.notOk('answerId' in (rows[2]!.extra as object), 'an empty answerId is dropped')
  t.equal((rows[3]!.document_title as string).length, 1024)
  t.equal((rows[3]!.document_url as string).length, 1024)
  t.match(rows[4], { event_value: 'doesNotAnswer', extra: { additionalNotes: 'n' } })
  t.equal(rows[5]!.quantity, '0.5')
  t.equal(rows[6]!.price, '0')
  t.equal((rows[7]!.user_agent as string).length, 1024)
  t.equal((rows[7]!.extra as { location: string }).location.length, 1024)
  t.equal(rows[8]!.event_value, 'aNewerAction', 'open enums accept a newer value')
})

t.test('validation endpoints store nothing and name every fault', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const auth = { authorization: `Bearer ${key}` }
  const bad = withField(without(event('itemClick'), 'itemMetadata.uniqueFieldValue'), 'position', 0)
  const reply = await app.inject({ method: 'POST', url: `${PATH}/validate`, headers: auth, payload: [event('itemView'), bad, { meta: meta('ec.nope') }] })
  t.equal(reply.statusCode, 200)
  t.same(reply.json(), [
    { valid: true, errors: [] },
    {
      valid: false,
      errors: [
        { type: 'InvalidObject', message: 'Field "position" must be an integer from 1 to 32767', path: '/position' },
        { type: 'MissingParameter', message: 'Field "itemMetadata.uniqueFieldValue" is required', path: '/itemMetadata/uniqueFieldValue' },
      ],
    },
    { valid: false, errors: [{ type: 'InvalidEventType', message: 'Unknown event type "ec.nope": the "ec" namespace is reserved for the catalogue\'s types', path: '/meta/type' }] },
  ])
  const notArray = await app.inject({ method: 'POST', url: '/events/v1/validate', headers: auth, payload: {} })
  t.equal(notArray.statusCode, 400)
  t.match(notArray.json(), { type: 'InvalidObject' })
  const noAuth = await app.inject({ method: 'POST', url: `${PATH}/validate`, payload: [event('itemView')] })
  t.equal(noAuth.statusCode, 401)

  // v15 events, judged by the v15 rules.
  const v15 = (type: string, payload: unknown) => app.inject({ method: 'POST', url: `${PATH}/analytics/${type}/validate`, headers: auth, payload: payload as object })
  t.same((await v15('search', { language: 'en', queryText: 'q', actionCause: 'searchboxSubmit', responseTime: 3, searchQueryUid: 'u' })).json(), { valid: true, errors: [] })
  t.same((await v15('click', { language: 'en' })).json(), { valid: false, errors: [{ type: 'MissingParameter', message: 'Field "actionCause" is required for a click event', path: '/actionCause' }] })
  t.same((await v15('custom', { language: 'en', eventType: 1, eventValue: 'v' })).json(), { valid: false, errors: [{ type: 'InvalidObject', message: 'Field "eventType" must be a string, got a number', path: '/eventType' }] })
  t.same((await v15('view', { location: 'https://a' })).json(), { valid: true, errors: [] })
  t.same((await v15('collect', { t: 'event' })).json(), { valid: true, errors: [] })
  t.same((await v15('searches', [{ language: 'en' }, { language: 'en', queryText: 'q', actionCause: 'a', responseTime: 3, searchQueryUid: 'u' }])).json(), [
    { valid: false, errors: [{ type: 'MissingParameter', message: 'Field "actionCause" is required for a search event', path: '/actionCause' }] },
    { valid: true, errors: [] },
  ])
  const unknownType = await v15('nope', {})
  t.equal(unknownType.statusCode, 404)
  t.match(unknownType.json(), { type: 'NotFound' })

  const requests = await app.inject({ method: 'POST', url: `${PATH}/requests/validate?type=search&version=v2`, headers: auth, payload: {} })
  t.equal(requests.statusCode, 501)
  t.match(requests.json(), { type: 'NotImplemented', message: String })

  t.equal((await storedEvents(app)).length, 0, 'validation stored nothing')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM visitors')
  t.equal(rows[0].n, 0, 'and touched no visit')
})
