import t from 'tap'
import { buildTestApp, createKey, listen, manualClock } from '../helpers/app.js'
import { HttpClient, halves } from './helpers.js'

const SECOND = 1000
const MINUTE = 60 * SECOND

t.test('a help site over HTTP: auth, session, search, click, rate, ticket; results per session', async (t) => {
  const clock = manualClock()
  const start = clock()
  const { app } = await buildTestApp(t, { clock })
  const key = await createKey(app, 'acme', ['analytics:push', 'analytics:read'])
  const base = await listen(app)
  const { keyId, secret } = halves(key)
  const client = new HttpClient(base, keyId)

  const auth = await client.auth(secret)
  t.equal(auth.status, 200)
  t.equal(auth.body.expires_in, 1200)
  t.ok(Math.abs(auth.body.expiration - (Date.now() / 1000 + 1200)) < 60, 'expiration is a unix time 20 minutes ahead')
  t.same(auth.body.apis, { search: base, tracking: base })

  // Session 1: the full path to a ticket.
  const opened = await client.openSession()
  t.equal(opened.status, 200)
  t.type(opened.body.sessionToken, 'string')
  const session1 = opened.body.sessionId as string

  clock.advance(SECOND)
  // The backend logs the search with the session (here with the `Bearer ` form of the header).
  const search = await client.request(
    'POST',
    '/v1/tracking/search',
    { query: 'reset my password', results: [{ id: 12, title: 'Reset a password', url: 'https://help.example/12' }, { id: '34' }] },
    { 'x-inbenta-session': `Bearer ${client.session}` },
  )
  t.equal(search.status, 200)
  t.equal(search.body.sessionId, session1, 'the search joined the session')
  t.type(search.body.tracking.searchCode, 'string')
  t.same(search.body.results.map((r: { id: unknown }) => r.id), [12, '34'])
  const [first] = search.body.results as Array<{ tracking: { clickCode: string; rateCode: string; externalCode: string } }>

  clock.advance(SECOND)
  const click = await client.track('click', { code: first!.tracking.clickCode })
  t.same(click.body, { logs: ['atomic', 'session'], sessionId: session1 })
  clock.advance(SECOND)
  const rate = await client.track('rate', { code: first!.tracking.rateCode, value: 2, comment: 'not what I needed' })
  t.equal(rate.status, 200)
  clock.advance(SECOND)
  const ticket = await client.track('CONTACT_TICKET', { ticketId: 'T-1' })
  t.same(ticket.body, { logs: ['session'], sessionId: session1 }, 'a data key goes to the session log only')

  const report1 = await client.request('GET', `/v1/reports/sessions/${session1}`)
  t.equal(report1.status, 200)
  t.same(
    report1.body.actions.map((a: { dataKey: string }) => a.dataKey),
    ['START', 'SEARCH', 'CLICK_MATCH', 'RATE_CONTENT', 'CONTACT_TICKET'],
    'actions in order',
  )
  t.equal(report1.body.result.dataKey, 'CONTACT_TICKET', 'the result of the session is the ticket')
  t.equal(report1.body.result.priority, 1)

  // The click is a click in the shared model, tied to its search by the code alone.
  const { rows: clicks } = await app.db.query(
    `SELECT c.type, c.document_id, c.document_position, c.document_title, c.search_query_uid, s.event_id::text AS search_id,
            c.extra->>'logType' AS log_type, c.extra->>'dataKey' AS data_key
     FROM events c JOIN events s ON s.org_id = c.org_id AND s.type = 'search' AND s.protocol = 'inbenta'
     WHERE c.org_id = 'acme' AND c.protocol = 'inbenta' AND c.type = 'click'`,
  )
  t.equal(clicks.length, 1)
  t.match(clicks[0], { type: 'click', document_id: '12', document_position: 1, document_title: 'Reset a password', log_type: 'MATCH', data_key: 'CLICK_MATCH' })
  t.equal(clicks[0].search_query_uid, clicks[0].search_id, 'the click carries the searchQueryUid of its search')
  const { rows: ratings } = await app.db.query(`SELECT type, event_value, feedback_score, custom_data FROM events WHERE extra->>'logType' = 'RATING'`)
  t.same(ratings, [{ type: 'feedback', event_value: '2', feedback_score: 2, custom_data: { comment: 'not what I needed' } }])

  // Session 2: a search and a click only; the click is its result.
  clock.advance(MINUTE)
  const session2 = (await client.openSession()).body.sessionId as string
  t.not(session2, session1)
  clock.advance(SECOND)
  const search2 = await client.request('POST', '/v1/tracking/search', { query: 'opening hours', results: [{ id: 7 }] })
  clock.advance(SECOND)
  t.equal((await client.track('click', { code: search2.body.results[0].tracking.clickCode })).status, 200)
  const report2 = await client.request('GET', `/v1/reports/sessions/${session2}`)
  t.same(report2.body.actions.map((a: { dataKey: string }) => a.dataKey), ['START', 'SEARCH', 'CLICK_MATCH'])
  t.equal(report2.body.result.dataKey, 'CLICK_MATCH')

  // Session 3: 29 minutes of silence keep it; 30 more start a new session under the same token.
  clock.advance(MINUTE)
  const session3 = (await client.openSession()).body.sessionId as string
  clock.advance(29 * MINUTE)
  const kept = await client.request('POST', '/v1/tracking/search', { query: 'refund', results: [{ id: 1 }] })
  t.equal(kept.body.sessionId, session3, 'after 29 minutes: the same session')
  clock.advance(30 * MINUTE + SECOND)
  const renewed = await client.track('click', { code: kept.body.results[0].tracking.clickCode })
  t.equal(renewed.status, 200, 'the same session token still works')
  const session4 = renewed.body.sessionId as string
  t.not(session4, session3, 'after 30 minutes of silence: a new session')
  const report3 = await client.request('GET', `/v1/reports/sessions/${session3}`)
  t.same(report3.body.actions.map((a: { dataKey: string }) => a.dataKey), ['START', 'SEARCH'])
  t.equal(report3.body.result.dataKey, 'SEARCH', 'the old session ended with a search only')
  const report4 = await client.request('GET', `/v1/reports/sessions/${session4}`)
  t.same(report4.body.actions.map((a: { dataKey: string }) => a.dataKey), ['CLICK_MATCH'])

  // The summary over the range: how each session ended.
  const from = new Date(start.getTime() - MINUTE).toISOString()
  const to = new Date(clock().getTime() + MINUTE).toISOString()
  const summary = await client.request('GET', `/v1/reports/results?from=${from}&to=${to}`)
  t.equal(summary.status, 200)
  t.equal(summary.body.sessions, 4)
  t.equal(summary.body.withoutResult, 0)
  t.same(summary.body.results, [
    { dataKey: 'CONTACT_TICKET', priority: 1, sessions: 1 },
    { dataKey: 'CLICK_MATCH', priority: 5, sessions: 2 },
    { dataKey: 'SEARCH', priority: 9, sessions: 1 },
  ])
  const empty = await client.request('GET', `/v1/reports/results?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`)
  t.same(empty.body, { from: '2020-01-01T00:00:00.000Z', to: '2020-02-01T00:00:00.000Z', sessions: 0, withoutResult: 0, results: [] })

  const metrics = await app.metrics.eventsAccepted.get()
  const clicksCounted = metrics.values.find((v) => v.labels.protocol === 'inbenta' && v.labels.type === 'click')
  t.equal(clicksCounted?.value, 3, 'accepted events are counted per protocol and type')
})

t.test('the /v1/inbtrck aliases, a form-encoded auth and USER_INFO', async (t) => {
  const { app } = await buildTestApp(t)
  const key = await createKey(app, 'acme', ['analytics:push', 'analytics:read'])
  const base = await listen(app)
  const { keyId, secret } = halves(key)
  const form = await fetch(`${base}/v1/auth`, {
    method: 'POST',
    headers: { 'x-inbenta-key': keyId, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ secret }).toString(),
  })
  t.equal(form.status, 200)
  const client = new HttpClient(base, keyId)
  client.accessToken = ((await form.json()) as { accessToken: string }).accessToken

  const opened = await client.request('POST', '/v1/inbtrck/session')
  t.equal(opened.status, 200)
  client.session = opened.body.sessionToken
  const user = await client.request('POST', '/v1/inbtrck/session/user', { data: { name: 'Ada', plan: 'pro' } })
  t.same(user.body, { logs: ['session'], sessionId: opened.body.sessionId })
  const tracked = await client.request('POST', '/v1/inbtrck/events', { type: 'CONTACT_START', data: {} }, { 'x-inbenta-source': 'faq_page', 'x-inbenta-env': 'production' })
  t.equal(tracked.status, 200)
  const report = await client.request('GET', `/v1/reports/sessions/${opened.body.sessionId}`)
  t.same(report.body.actions.map((a: { dataKey: string; priority: number }) => [a.dataKey, a.priority]), [['START', 11], ['USER_INFO', 0], ['CONTACT_START', 3]])
  t.same(report.body.actions[1].data, { name: 'Ada', plan: 'pro' })
  t.equal(report.body.result.dataKey, 'CONTACT_START', 'USER_INFO (priority 0) is never a result')
  const { rows } = await app.db.query(`SELECT extra->>'source' AS source, extra->>'env' AS env FROM events WHERE extra->>'dataKey' = 'CONTACT_START'`)
  t.same(rows, [{ source: 'faq_page', env: 'production' }], 'x-inbenta-* headers are recorded')
})
