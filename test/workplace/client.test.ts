import t from 'tap'
import { Client } from '@elastic/enterprise-search'
import { buildTestApp, createKey, listen, manualClock } from '../helpers/app.js'

// Elastic's own Node client is the contract: what it sends must be accepted and stored, and what
// searchtrack answers must be what the client expects (a JSON body it can parse).
t.test('the @elastic/enterprise-search client records a click and a feedback', async (t) => {
  const clock = manualClock()
  const { app } = await buildTestApp(t, { clock })
  const key = await createKey(app, 'acme')
  const url = await listen(app)
  const client = new Client({ url, auth: { token: key.key } })
  t.teardown(() => client.close())

  const click = await client.workplace.createAnalyticsEvent({
    body: { type: 'click', query_id: 'qid-123', page: 2, content_source_id: 'cs-1', document_id: 'doc-1', rank: 12, event: 'api' },
  })
  t.same(click, {}, 'the client gets the empty JSON object Elastic answers')
  clock.advance(1000)
  const feedback = await client.workplace.createAnalyticsEvent({
    body: { type: 'feedback', query_id: 'qid-123', page: 1, content_source_id: 'cs-1', document_id: 'doc-2', rank: 2, score: -1 },
  })
  t.same(feedback, {})

  const { rows } = await app.db.query(
    `SELECT org_id, protocol, type, search_query_uid, document_id, source_name, document_position,
            feedback_score, visitor_id, visit_id, username, anonymous, received_at, extra
       FROM events ORDER BY received_at`,
  )
  t.equal(rows.length, 2)
  t.match(rows[0], {
    org_id: 'acme', protocol: 'workplace', type: 'click', search_query_uid: 'qid-123', document_id: 'doc-1',
    source_name: 'cs-1', document_position: 13, feedback_score: null, visitor_id: null, visit_id: null,
    username: null, anonymous: true, received_at: new Date('2026-06-15T10:00:00.000Z'),
    extra: { page: 2, rank: 12, event: 'api' },
  })
  t.match(rows[1], {
    type: 'feedback', search_query_uid: 'qid-123', document_id: 'doc-2', source_name: 'cs-1',
    document_position: 3, feedback_score: -1, received_at: new Date('2026-06-15T10:00:01.000Z'),
  })
  t.same(rows[1].extra, { page: 1, rank: 2 }, 'a feedback has no click label')
})

const PATH = '/api/ws/v1/analytics/event'

// The transport retries when an answer is lost (here: the connection is cut after the event was
// committed, as a proxy timing out would). With an Idempotency-Key the retry is recognised.
t.test('a retried request is stored once when the client sends an Idempotency-Key', async (t) => {
  let attempts = 0
  let answersToDrop = 0
  const { app } = await buildTestApp(t, {
    beforeRegister: (server) =>
      server.addHook('onSend', async (request, reply, payload) => {
        if (!request.url.startsWith(PATH)) return payload
        attempts++
        if (reply.statusCode === 200 && answersToDrop > 0) {
          answersToDrop--
          request.raw.socket.destroy()
        }
        return payload
      }),
  })
  const key = await createKey(app, 'acme')
  const client = new Client({ url: await listen(app), auth: { token: key.key } })
  t.teardown(() => client.close())
  const body = { type: 'click' as const, query_id: 'q', page: 1, content_source_id: 'c', document_id: 'd', rank: 0, event: 'api' }

  answersToDrop = 1
  const answer = await client.workplace.createAnalyticsEvent(
    { body },
    { headers: { 'idempotency-key': 'click-0001' }, retryBackoff: () => 0 },
  )
  t.same(answer, {}, 'the client ends with a 200')
  t.equal(attempts, 2, 'the first answer was lost and the client retried')
  const { rows } = await app.db.query(`SELECT event_id, extra->>'idempotencyKey' AS key FROM events`)
  t.same(rows.map((r) => r.key), ['click-0001'], 'stored once')

  // Overlapping attempts in one process share one write.
  const concurrent = await Promise.all(
    [1, 2, 3].map(() =>
      app.inject({ method: 'POST', url: PATH, headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': 'click-0002' }, payload: body }),
    ),
  )
  t.same(concurrent.map((r) => r.statusCode), [200, 200, 200])
  const again = await app.db.query(`SELECT count(*)::int AS n FROM events WHERE extra->>'idempotencyKey' = 'click-0002'`)
  t.equal(again.rows[0].n, 1, 'three overlapping attempts, one row')

  // The documented limit: without the header a retry cannot be told from a new click.
  attempts = 0
  answersToDrop = 1
  await client.workplace.createAnalyticsEvent({ body: { ...body, document_id: 'no-key' } }, { retryBackoff: () => 0 })
  t.equal(attempts, 2)
  const unkeyed = await app.db.query(`SELECT count(*)::int AS n FROM events WHERE document_id = 'no-key'`)
  t.equal(unkeyed.rows[0].n, 2, 'without Idempotency-Key the retry is stored again')

  // A key is scoped to its org: another org's event with the same key is a different event.
  const other = await createKey(app, 'globex')
  const res = await app.inject({
    method: 'POST', url: PATH, headers: { authorization: `Bearer ${other.key}`, 'idempotency-key': 'click-0001' }, payload: body,
  })
  t.equal(res.statusCode, 200)
  const byOrg = await app.db.query(`SELECT org_id FROM events WHERE extra->>'idempotencyKey' = 'click-0001' ORDER BY org_id`)
  t.same(byOrg.rows.map((r) => r.org_id), ['acme', 'globex'])
})

t.test('the client surfaces a 400 and a 401 as errors it does not retry', async (t) => {
  let attempts = 0
  const { app } = await buildTestApp(t, {
    beforeRegister: (server) => server.addHook('onRequest', async (request) => { if (request.url.startsWith(PATH)) attempts++ }),
  })
  const key = await createKey(app, 'acme')
  const url = await listen(app)
  const client = new Client({ url, auth: { token: key.key } })
  const stranger = new Client({ url, auth: { username: 'someone', password: 'nope' } })
  t.teardown(() => Promise.all([client.close(), stranger.close()]))

  const invalid = { type: 'feedback', query_id: 'q', page: 0, content_source_id: 'c', document_id: 'd', rank: 0 } as never
  const err400 = await client.workplace.createAnalyticsEvent({ body: invalid }).catch((e: unknown) => e)
  t.match(err400, { meta: { statusCode: 400, body: { errors: ['page must be 1 or greater', 'score is required for feedback events'] } } })
  const body = { type: 'click' as const, query_id: 'q', page: 1, content_source_id: 'c', document_id: 'd', rank: 0, event: 'api' }
  const err401 = await stranger.workplace.createAnalyticsEvent({ body }).catch((e: unknown) => e)
  t.match(err401, { meta: { statusCode: 401, body: { errors: ['The access token is not valid'] } } })
  t.equal(attempts, 2, 'one attempt each')
  const { rows } = await app.db.query('SELECT count(*)::int AS n FROM events')
  t.equal(rows[0].n, 0)
})
