import t from 'tap'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { halves, HttpClient } from '../inbenta/helpers.js'
import { CLICK, SEARCH } from '../coveo/helpers.js'
import { CODE_MAX_LENGTH } from '../../src/protocols/inbenta/codes.js'
import { isExactNumber } from '../../src/http/json.js'

// Bodies are parsed one way whatever their content type, and what cannot be stored as sent is
// refused rather than altered.

t.test('one parsing path: a beacon (text/plain, form) gets the same checks as a JSON body', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const click = (payload: string | Buffer, contentType: string) =>
    app.inject({ method: 'POST', url: `/rest/ua/v15/analytics/click?access_token=${key}&visitorId=v1`, headers: { 'content-type': contentType }, payload })
  const form = (json: string) => `clickEvent=${encodeURIComponent(json)}`
  const polluted = JSON.stringify(CLICK).replace('{', '{"__proto__":{"contentidvalue":"leaked"},')
  const nested = JSON.stringify({ ...CLICK, customData: {} }).replace('"customData":{}', '"customData":{"__proto__":{"contentidvalue":"leaked"}}')
  const cases: Array<[string, string | Buffer, string, string]> = [
    ['__proto__ in a JSON body', polluted, 'application/json', 'InvalidJson'],
    ['__proto__ in a text/plain beacon', polluted, 'text/plain', 'InvalidJson'],
    ['__proto__ in a form field', form(polluted), 'application/x-www-form-urlencoded', 'InvalidJson'],
    ['__proto__ in customData of a form field', form(nested), 'application/x-www-form-urlencoded', 'InvalidJson'],
    ['invalid UTF-8 in a text/plain beacon', Buffer.concat([Buffer.from('{"language":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 'text/plain', 'InvalidEncoding'],
    ['invalid UTF-8 percent-encoded in a form field', `clickEvent=${encodeURIComponent(JSON.stringify(CLICK)).replace('en', '%C3%28')}`, 'application/x-www-form-urlencoded', 'InvalidEncoding'],
    ['a lone surrogate percent-encoded in a form field', `clickEvent=${encodeURIComponent(JSON.stringify(CLICK)).replace('en', '%ED%A0%80')}`, 'application/x-www-form-urlencoded', 'InvalidEncoding'],
    ['1e400 in a form field', form(JSON.stringify({ ...CLICK, customData: { n: 1 } }).replace('"n":1', '"n":1e400')), 'application/x-www-form-urlencoded', 'InvalidNumber'],
    ['too deep in a text/plain beacon', `{"a":${'['.repeat(40)}${']'.repeat(40)}}`, 'text/plain', 'JsonTooDeep'],
  ]
  for (const [name, payload, contentType, type] of cases) {
    const res = await click(payload, contentType)
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.equal(res.json().type, type, `${name}: ${type}`)
  }
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0, 'nothing stored, no inherited value leaked into document_id')
  t.equal((await click(form(JSON.stringify(CLICK)), 'application/x-www-form-urlencoded')).statusCode, 200, 'a well-formed beacon passes')
})

t.test('numbers are stored exactly as sent, or refused', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const search = (customData: string) =>
    app.inject({
      method: 'POST', url: '/rest/ua/v15/analytics/search', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify(SEARCH).replace('}', `,"customData":${customData}}`),
    })
  for (const literal of ['1e400', '-1e400', '9007199254740993', '12345678901234567890', '1e-400', '0.1000000000000000055511151231257827']) {
    const res = await search(`{"n":${literal}}`)
    t.equal(res.statusCode, 400, `${literal}: refused`)
    t.match(res.json(), { type: 'InvalidNumber', message: new RegExp(literal.slice(0, 10).replace('.', '\\.')) })
  }
  const exact = ['0', '-0', '1.5', '0.30000000000000004', '123456789012345', '9007199254740991', '1e21', '5e-324', '1.7976931348623157e308', '123.40000000000146', '2.50']
  const res = await search(`{${exact.map((n, i) => `"n${i}":${n}`).join(',')}}`)
  t.equal(res.statusCode, 200, 'numbers a double holds exactly are accepted')
  const { rows } = await app.db.query('SELECT custom_data FROM events')
  t.same(exact.map((_, i) => rows[0].custom_data[`n${i}`]), exact.map(Number), 'and stored as sent')
  t.ok(isExactNumber('0.1') && !isExactNumber('0.10000000000000000001'), 'the rule: the literal and the double are the same decimal')
})

t.test('Inbenta: event types are own names only; data is capped; codes stay bounded whatever the titles', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme', ['analytics:push', 'analytics:read'])
  const base = await listen(app)
  const client = new HttpClient(base, halves(key).keyId)
  await client.auth(halves(key).secret)
  await client.openSession()
  for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    const res = await client.track(type, { code: 'x' })
    t.equal(res.status, 400, `type ${type}: 400`)
    t.match(res.body, { error: { code: 400, message: /Unknown event type/ } })
  }

  // A 488 KB data object: stored capped as Coveo caps customData, not whole.
  const big: Record<string, string> = {}
  for (let i = 0; i < 500; i++) big[`k${i}`] = 'x'.repeat(1000)
  t.equal((await client.track('CONTACT_TICKET', big)).status, 200)
  const { rows } = await app.db.query(`SELECT length(custom_data::text) AS n FROM events WHERE event_type = 'CONTACT_TICKET'`)
  t.ok(rows[0].n <= 32_500 + 500, `stored data is capped (${rows[0].n} characters)`)

  // Results whose titles and URLs are as long as the schema allows, in a script of three-byte
  // characters: the codes stay under the length a click may send back, and the click lands.
  const title = '\u{10302}'.repeat(512) // 1,024 UTF-16 units, 4 bytes each in UTF-8
  const url = `https://help.example/${'€'.repeat(2020)}`
  const search = await client.request('POST', '/v1/tracking/search', { query: 'q', results: [{ id: 'é'.repeat(256), title, url, source: 'ß'.repeat(256) }] })
  t.equal(search.status, 200)
  const { clickCode, rateCode, externalCode } = search.body.results[0].tracking
  for (const [name, code] of Object.entries({ clickCode, rateCode, externalCode, searchCode: search.body.tracking.searchCode })) {
    t.ok(code.length < CODE_MAX_LENGTH, `${name}: ${code.length} characters, under ${CODE_MAX_LENGTH}`)
  }
  const clicked = await client.track('click', { code: clickCode })
  t.equal(clicked.status, 200, 'the real click with that code is accepted')
  const stored = await app.db.query(`SELECT document_id, document_title FROM events WHERE type = 'click'`)
  t.equal(stored.rows[0].document_id, 'é'.repeat(256), 'the id whole')
  t.ok(title.startsWith(stored.rows[0].document_title) && stored.rows[0].document_title.length > 50, 'the title cut, not broken')
})
