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
