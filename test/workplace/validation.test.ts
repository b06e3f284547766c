import t from 'tap'
import { buildTestApp, createKey } from '../helpers/app.js'

const URL = '/api/ws/v1/analytics/event'
const click = { type: 'click', query_id: 'q', page: 1, content_source_id: 'c', document_id: 'd', rank: 0, event: 'api' }
const feedback = { type: 'feedback', query_id: 'q', page: 1, content_source_id: 'c', document_id: 'd', rank: 0, score: 1 }

function without<T extends object>(body: T, field: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) }
  delete copy[field]
  return copy
}

const long = 'x'.repeat(129)

// [name, body, expected error list]: every rule of the field table, one message per violation.
const rejected: Array<[string, unknown, string[]]> = [
  ['type missing', without(click, 'type'), ['type is required']],
  ['type unknown', { ...click, type: 'view' }, ['type must be "click" or "feedback"']],
  ['type not a string', { ...click, type: 1 }, ['type must be "click" or "feedback"']],
  ['type in another case', { ...click, type: 'Click' }, ['type must be "click" or "feedback"']],
  ...(['query_id', 'content_source_id', 'document_id'] as const).flatMap((field): Array<[string, unknown, string[]]> => [
    [`${field} missing`, without(click, field), [`${field} is required`]],
    [`${field} empty`, { ...click, [field]: '' }, [`${field} must be 1 to 128 characters long`]],
    [`${field} 129 characters`, { ...click, [field]: long }, [`${field} must be 1 to 128 characters long`]],
    [`${field} a number`, { ...click, [field]: 123 }, [`${field} must be a string`]],
    [`${field} null`, { ...click, [field]: null }, [`${field} must be a string`]],
  ]),
  ['page missing', without(click, 'page'), ['page is required']],
  ['page 0', { ...click, page: 0 }, ['page must be 1 or greater']],
  ['page negative', { ...click, page: -3 }, ['page must be 1 or greater']],
  ['page fractional', { ...click, page: 1.5 }, ['page must be an integer']],
  ['page a string', { ...click, page: '1' }, ['page must be an integer']],
  ['rank missing', without(click, 'rank'), ['rank is required']],
  ['rank negative', { ...click, rank: -1 }, ['rank must be 0 or greater']],
  ['rank fractional', { ...click, rank: 0.5 }, ['rank must be an integer']],
  ['rank a string', { ...click, rank: '0' }, ['rank must be an integer']],
  ['click without event', without(click, 'event'), ['event is required for click events']],
  ['click with empty event', { ...click, event: '' }, ['event must be 1 to 128 characters long']],
  ['click with 129-character event', { ...click, event: long }, ['event must be 1 to 128 characters long']],
  ['click with a numeric event', { ...click, event: 7 }, ['event must be a string']],
  ['click with score', { ...click, score: 1 }, ['score is not allowed for click events']],
  ['feedback with event', { ...feedback, event: 'api' }, ['event is not allowed for feedback events']],
  ['feedback without score', without(feedback, 'score'), ['score is required for feedback events']],
  ['feedback score 0', { ...feedback, score: 0 }, ['score must be 1 or -1']],
  ['feedback score 2', { ...feedback, score: 2 }, ['score must be 1 or -1']],
  ['feedback score a string', { ...feedback, score: '1' }, ['score must be 1 or -1']],
  ['unknown type with a bad score', { ...without(click, 'event'), type: 'x', score: 5 }, ['type must be "click" or "feedback"', 'score must be 1 or -1']],
  ['unknown property', { ...click, foo: 'bar' }, ['"foo" is not an allowed property']],
  ['several problems at once', { type: 'click', page: 0, rank: -1, extra: 1, score: -1 }, [
    'query_id is required', 'page must be 1 or greater', 'content_source_id is required', 'document_id is required',
    'rank must be 0 or greater', 'event is required for click events', 'score is not allowed for click events',
    '"extra" is not an allowed property',
  ]],
  ['an array', [click], ['The request body must be a JSON object']],
  ['a string', 'click', ['The request body must be a JSON object']],
  ['null', null, ['The request body must be a JSON object']],
]

t.test('each violation of the contract is one message in a 400, and nothing is stored', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  for (const [name, body, errors] of rejected) {
    const res = await app.inject({
      method: 'POST', url: URL, headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.match(res.headers['content-type'], /^application\/json/, `${name}: JSON`)
    t.same(res.json(), { errors }, `${name}: exactly the expected errors and nothing else`)
  }
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0, 'no rejected event was stored')
  const rejections = (await app.metrics.eventsRejected.get()).values.find((v) => v.labels.reason === 'InvalidEvent')
  t.equal(rejections?.value, rejected.length, 'every rejection is counted')
})

// Bodies that never reach validation: still one message in the same shape, a 4xx and no row.
const unreadable: Array<[string, Record<string, string>, string, number, string[]]> = [
  ['broken JSON', { 'content-type': 'application/json' }, '{"type": "click",', 400, ['The request body is not valid JSON']],
  ['empty JSON body', { 'content-type': 'application/json' }, '', 400, ['The request body is not valid JSON']],
  ['a prototype-poisoning body', { 'content-type': 'application/json' }, '{"__proto__": {"x": 1}}', 400, []],
  ['text/plain', { 'content-type': 'text/plain' }, JSON.stringify(click), 415, ['Unsupported Content-Type; send application/json']],
  ['form-encoded', { 'content-type': 'application/x-www-form-urlencoded' }, 'type=click', 415, ['Unsupported Content-Type; send application/json']],
  ['too large', { 'content-type': 'application/json' }, JSON.stringify({ ...click, query_id: 'x'.repeat(2000) }), 413, ['The request body is too large']],
  ['a malformed Idempotency-Key', { 'content-type': 'application/json', 'idempotency-key': 'has space' }, JSON.stringify(click), 400, ['Idempotency-Key must be 1 to 255 visible ASCII characters']],
]

t.test('unreadable bodies get one message each', async (t) => {
  const { app } = await buildTestApp(t, { env: { BODY_LIMIT_BYTES: '1024' } })
  const key = await createKey(app, 'acme')
  for (const [name, headers, payload, status, errors] of unreadable) {
    const res = await app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${key.key}`, ...headers }, payload })
    t.equal(res.statusCode, status, `${name}: ${status}`)
    const body = res.json()
    t.same(Object.keys(body), ['errors'], `${name}: only an errors list`)
    t.equal(body.errors.length, 1, `${name}: one message`)
    if (errors.length > 0) t.same(body.errors, errors, `${name}: the message`)
  }
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0)
})

t.test('boundaries the contract allows are accepted', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme')
  const max = 'y'.repeat(128)
  const emoji = '😀'.repeat(128) // 128 characters, 256 UTF-16 code units
  const accepted: Array<[string, Record<string, unknown>]> = [
    ['128-character strings', { ...click, query_id: max, content_source_id: max, document_id: max, event: max }],
    ['128 emoji', { ...click, document_id: emoji }],
    ['feedback -1', { ...feedback, score: -1 }],
    ['a rank past any int4 position', { ...click, document_id: 'far', page: 9_000_000_000, rank: 90_000_000_000 }],
  ]
  for (const [name, body] of accepted) {
    const res = await app.inject({ method: 'POST', url: `${URL}/?unknown=1&also=2`, headers: { authorization: `Bearer ${key.key}` }, payload: body })
    t.equal(res.statusCode, 200, name)
    t.equal(res.body, '{}', `${name}: {}`)
  }
  const { rows } = await app.db.query(`SELECT document_id, document_position, extra FROM events WHERE document_id IN ('far', $1)`, [emoji])
  const far = rows.find((r) => r.document_id === 'far')
  t.same([far.document_position, far.extra.rank, far.extra.page], [null, 90_000_000_000, 9_000_000_000], 'a huge rank is kept in extra, not lost')
  t.ok(rows.some((r) => r.document_id === emoji), 'emoji stored intact')
})
