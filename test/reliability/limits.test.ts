import t from 'tap'
import pg from 'pg'
import { buildAppWithTestRoute } from './helpers.js'
import { createTestDatabase } from '../helpers/db.js'
import { createKey } from '../helpers/app.js'
import { jsonDepthExceeds } from '../../src/http/json.js'
import { newEvent } from '../../src/events/event.js'
import { until } from './load.js'

const json = { 'content-type': 'application/json' }

t.test('body size, nesting depth, encoding and content type: 4xx with a JSON error, never 5xx', async (t) => {
  const url = await createTestDatabase(t)
  const { app } = await buildAppWithTestRoute(t, url, { BODY_LIMIT_BYTES: '2048', JSON_MAX_DEPTH: '8' })
  await app.keys.createOrg('acme')
  const post = (payload: string | Buffer, headers: Record<string, string> = json) =>
    app.inject({ method: 'POST', url: '/test/events', headers, payload })

  const ok = await post(JSON.stringify({ org: 'acme', visitors: ['v'] }))
  t.equal(ok.statusCode, 200, 'a well-formed request passes')

  const cases: Array<[string, Awaited<ReturnType<typeof post>>, number, string]> = [
    ['too large', await post(JSON.stringify({ org: 'acme', visitors: ['x'.repeat(4000)] })), 413, 'PayloadTooLarge'],
    ['too deep', await post(`{"org":"acme","visitors":[],"x":${'['.repeat(9)}${']'.repeat(9)}}`), 400, 'JsonTooDeep'],
    ['deep inside a string is fine', await post(`{"org":"acme","visitors":["${'['.repeat(50)}"]}`), 200, ''],
    ['invalid UTF-8', await post(Buffer.concat([Buffer.from('{"org":"acme","visitors":["'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}')])), 400, 'InvalidEncoding'],
    ['overlong UTF-8 encoding', await post(Buffer.concat([Buffer.from('{"org":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","visitors":[]}')])), 400, 'InvalidEncoding'],
    ['not JSON', await post('{"org":'), 400, 'InvalidJson'],
    ['empty', await post(''), 400, 'InvalidJson'],
    ['prototype pollution', await post('{"org":"acme","visitors":[],"__proto__":{"admin":true}}'), 400, 'InvalidJson'],
    ['wrong content type', await post('org=acme', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UnsupportedMediaType'],
    ['unknown content type', await post('<xml/>', { 'content-type': 'application/xml' }), 415, 'UnsupportedMediaType'],
    ['schema violation', await post(JSON.stringify({ org: 1 })), 400, 'InvalidRequest'],
  ]
  for (const [name, response, status, type] of cases) {
    t.equal(response.statusCode, status, `${name}: ${status}`)
    if (status !== 200) t.match(response.json(), { message: String, type }, `${name}: JSON error ${type}`)
  }
})

t.test('depth counting ignores brackets in strings and escaped quotes', async (t) => {
  t.notOk(jsonDepthExceeds('{"a":"[[[[\\"[[[["}', 1))
  t.ok(jsonDepthExceeds('{"a":{"b":1}}', 1))
  t.notOk(jsonDepthExceeds('[[1],[2],[3]]', 2), 'siblings do not add up')
})

t.test('rate limit per credential: 429 + Retry-After, other keys and ops routes unaffected', async (t) => {
  const url = await createTestDatabase(t)
  const { app } = await buildAppWithTestRoute(t, url, { RATE_LIMIT_PER_MINUTE: '5' })
  const a = await createKey(app, 'acme')
  const b = await createKey(app, 'acme')
  const send = (key: string) =>
    app.inject({ method: 'POST', url: '/test/events', headers: { ...json, authorization: `Bearer ${key}` }, payload: { org: 'acme', visitors: ['v'] } })

  const statuses = []
  for (let i = 0; i < 6; i++) statuses.push((await send(a.key)).statusCode)
  t.same(statuses, [200, 200, 200, 200, 200, 429], 'the sixth request of key A in a minute is refused')
  const limited = await send(a.key)
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['retry-after'], /^\d+$/, 'with Retry-After in seconds')
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)
  t.match(limited.json(), { type: 'TooManyRequests', message: /Too many requests/ })

  t.equal((await send(b.key)).statusCode, 200, 'key B has a budget of its own')
  // A wrong secret for key A's id is counted apart, so it cannot exhaust A's budget (nor use it).
  const forged = `st_${a.id}_${'A'.repeat(43)}`
  t.equal((await send(forged)).statusCode, 200, 'the route is reached (this test route does not authenticate)')
  for (let i = 0; i < 10; i++) t.equal((await app.inject({ url: '/health' })).statusCode, 200)
})

t.test('back-pressure: past MAX_QUEUED_EVENTS the service answers 503 + Retry-After', async (t) => {
  const url = await createTestDatabase(t)
  const { app } = await buildAppWithTestRoute(t, url, { MAX_QUEUED_EVENTS: '10', WRITER_CONCURRENCY: '1', BATCH_MAX_EVENTS: '5' })
  await app.keys.createOrg('acme')
  // Hold a lock on the visitors table so the first batch waits: everything after it queues.
  const blocker = new pg.Client({ connectionString: url })
  await blocker.connect()
  t.teardown(() => blocker.end())
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE visitors IN ACCESS EXCLUSIVE MODE')

  const five = () => ['a', 'b', 'c', 'd', 'e'].map((v) => newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: v }))
  const first = app.writer.write(five())
  await until(async () => {
    const { rows } = await blocker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'visitors'::regclass`)
    return rows[0].n > 0
  }, 'the first batch to wait for the lock')
  const queued = [app.writer.write(five()), app.writer.write(five())]
  t.equal(app.writer.queueDepth, 10, 'two requests wait behind the blocked batch')
  const refused = await app.inject({ method: 'POST', url: '/test/events', headers: json, payload: { org: 'acme', visitors: ['f'] } })
  t.equal(refused.statusCode, 503)
  t.equal(refused.headers['retry-after'], '1')
  t.match(refused.json(), { type: 'Overloaded', message: String })

  await blocker.query('COMMIT')
  const written = await Promise.all([first, ...queued])
  t.same(written.map((events) => events.length), [5, 5, 5], 'the queued requests are then written')
})
