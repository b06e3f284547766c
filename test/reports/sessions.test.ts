import t from 'tap'
import { halves, inject } from '../inbenta/helpers.js'
import { createKey } from '../helpers/app.js'
import { DataKeyStore } from '../../src/protocols/inbenta/priorities.js'
import { CoveoSender, get, reportsApp, settle } from './helpers.js'

t.test('deflection and Inbenta session results: a ticket is not deflected; priorities re-read history; equal to /v1/reports/results', async (t) => {
  const r = await reportsApp(t)
  const start = r.clock().getTime()
  const key = await createKey(r.app, 'acme', ['analytics:push', 'analytics:read'])
  const { keyId, secret } = halves(key)
  const auth = await inject(r.app, 'POST', '/v1/auth', { headers: { 'x-inbenta-key': keyId }, body: { secret } })
  const headers = { 'x-inbenta-key': keyId, authorization: `Bearer ${auth.body.accessToken}`, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36' }
  const sessions: string[] = []
  const session = async (steps: Array<'click' | string>) => {
    r.clock.advance(60 * 60_000)
    const opened = await inject(r.app, 'POST', '/v1/tracking/session', { headers })
    const h = { ...headers, 'x-inbenta-session': opened.body.sessionToken }
    sessions.push(opened.body.sessionId)
    r.clock.advance(1000)
    const search = await inject(r.app, 'POST', '/v1/tracking/search', { headers: h, body: { query: 'reset my password', results: [{ id: 'kb-7', title: 'Reset' }] } })
    for (const step of steps) {
      r.clock.advance(1000)
      if (step === 'click') await inject(r.app, 'POST', '/v1/tracking/events', { headers: h, body: { type: 'click', data: { code: search.body.results[0].tracking.clickCode } } })
      else await inject(r.app, 'POST', '/v1/tracking/events', { headers: h, body: { type: step, data: {} } })
    }
  }
  await session(['click', 'CONTACT_START', 'CONTACT_TICKET'])
  await session(['click'])
  await session(['CONTACT_START'])
  r.clock.advance(2 * 60 * 60_000)
  await settle(r.app)
  const range = `from=${new Date(start).toISOString()}&to=${new Date(start + 5 * 3_600_000).toISOString()}`

  const res = await get(r, `/api/v1/deflection?${range}&costPerTicket=20`)
  t.equal(res.status, 200)
  t.match(res.body.data, {
    visitsWithSearch: 3, supportVisits: 2, ticketVisits: 1, deflectionRate: 0.5, estimatedSavings: 20,
    selfServiceRate: 0.333333, sessions: { total: 3, contact: 2, sessionDeflectionRate: 0.5 },
    clickedInTicketVisits: [{ document: 'kb-7', clicks: 1 }],
  })
  const results = await inject(r.app, 'GET', `/v1/reports/results?${range}`, { headers })
  t.same(res.body.data.sessions.results, results.body.results, 'the same results as /v1/reports/results')
  const overview = await get(r, `/api/v1/overview?${range}&metrics=deflectionRate,selfServiceRate&compare=none`)
  t.equal(overview.body.data.deflectionRate.value, 0.5, 'Inbenta feeds deflection without a setting')

  const timeline = await get(r, `/api/v1/visits/${sessions[0]}`)
  t.same(timeline.body.data.sessionResult, { dataKey: 'CONTACT_TICKET', priority: 1 })
  t.same(timeline.body.data.events.map((e: { dataKey: string }) => e.dataKey), ['START', 'SEARCH', 'CLICK_MATCH', 'CONTACT_START', 'CONTACT_TICKET'])
  t.match(timeline.body.data.events[1], { type: 'search', causeClass: 'manual', userSearch: true, query: 'reset my password', numberOfResults: 1 })
  t.match(timeline.body.data.events[2], { type: 'click', position: 1, document: 'kb-7' })
  t.equal(timeline.body.data.events[2].boundTo, timeline.body.data.events[1].eventId, 'the click is bound to its search')
  const visits = await get(r, `/api/v1/visits?${range}&orderBy=start&direction=asc`)
  t.same(visits.body.data.rows.map((v: { result: { dataKey: string } }) => v.result.dataKey), ['CONTACT_TICKET', 'CLICK_MATCH', 'CONTACT_START'])
  const withTicket = await get(r, `/api/v1/visits?${range}&fn=${encodeURIComponent("dataKey == 'CONTACT_TICKET'")}`)
  t.equal(withTicket.body.data.rows.length, 2, 'fn drops the visit holding a ticket')

  // A ticket that stops mattering: the results are read with the current priorities.
  await new DataKeyStore(r.app.db).set('acme', 'CONTACT_TICKET', 20)
  const after = await get(r, `/api/v1/deflection?${range}`)
  t.equal(after.body.data.sessions.sessionDeflectionRate, 1)
  t.same((await get(r, `/api/v1/visits/${sessions[0]}`)).body.data.sessionResult, { dataKey: 'CONTACT_START', priority: 3 })
})

t.test('data quality: each check trips on its fixture and stays clean on clean data', async (t) => {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  const s = new CoveoSender(r, base)
  await s.search({ at: 0, visitor: 'v', q: 'clean', uid: 'ok1', nr: 3 })
  await s.click({ at: 1000, visitor: 'v', uid: 'ok1', position: 1, doc: 'kb' })
  await s.search({ at: 2000, visitor: 'v', q: 'no count', uid: 'nc', nr: null })
  await s.search({ at: 3000, visitor: 'v', q: 'twice', uid: 'dup', nr: 1 })
  await s.search({ at: 4000, visitor: 'v', q: 'twice', uid: 'dup', nr: 1, language: 'not a language' })
  await s.search({ at: 5000, visitor: 'bot', q: 'crawl', uid: 'b1', bot: true })
  await s.search({ at: 6000, visitor: 'v', q: 'odd cause', uid: 'oc', cause: 'myOwnCause' })
  await s.click({ at: 7000, visitor: 'v', uid: 'nowhere', position: 2, doc: 'kb' })
  // 121 searches of one visitor in an hour, more than a person makes: a bot its user agent hides.
  for (let i = 0; i < 121; i++) await s.search({ at: 8000 + i * 10, visitor: 'busy', q: `page ${i}`, uid: `busy${i}`, nr: 2 })
  r.clock.set(new Date(base + 10_000))
  const res = await r.app.inject({
    method: 'POST', url: '/rest/ua/v15/analytics/click', headers: { authorization: `Bearer ${r.push}`, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36' },
    payload: { language: 'en', actionCause: 'documentOpen', documentPosition: 1, searchQueryUid: 'ok1', sourceName: 'kb', documentUrl: 'https://kb/1', clientId: 'v', originLevel1: 'Support' },
  })
  t.equal(res.statusCode, 200)
  await settle(r.app)
  const range = `from=${new Date(base - 3_600_000).toISOString()}&to=${new Date(base + 3_600_000).toISOString()}`
  const q = await get(r, `/api/v1/quality?${range}`)
  const checks = new Map((q.body.data.checks as Array<{ code: string; protocol: string; failed: number; total: number; sampleEventIds: string[] }>).map((c) => [c.code, c]))
  t.match(checks.get('MISSING_NUMBER_OF_RESULTS'), { failed: 1, total: 127 })
  t.match(checks.get('DUPLICATE_SEARCH_ID'), { failed: 2 })
  t.match(checks.get('SUSPECTED_BOT'), { failed: 121, total: 126 })
  t.match(checks.get('CLICK_WITHOUT_SEARCH'), { failed: 1, total: 3 })
  t.match(checks.get('MISSING_CONTENT_ID'), { failed: 1, total: 3 })
  t.match(checks.get('MISSING_LANGUAGE'), { failed: 1, total: 130 })
  t.match(checks.get('BOT_SHARE'), { failed: 1, total: 130 })
  t.match(checks.get('UNCLASSIFIED_CAUSE'), { failed: 1 })
  t.match(checks.get('MISSING_ORIGIN_LEVEL1'), { failed: 0, sampleEventIds: [] })
  t.match(checks.get('MISSING_VISITOR'), { failed: 0 })
  t.match(checks.get('CLOCK_SKEW'), { failed: 0 })
  const sample = checks.get('MISSING_NUMBER_OF_RESULTS')!.sampleEventIds
  const stored = await r.app.db.query(`SELECT search_query_uid FROM events WHERE event_id = $1::uuid`, [sample[0]])
  t.equal(stored.rows[0].search_query_uid, 'nc', 'the sample is the failing event')
  const uids = async (code: string) => (await r.app.db.query(`SELECT search_query_uid AS uid FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY 1`,
    [checks.get(code)!.sampleEventIds])).rows.map((x) => x.uid as string)
  t.same(await uids('DUPLICATE_SEARCH_ID'), ['dup', 'dup'], 'the two searches sharing an id')
  t.same(await uids('SUSPECTED_BOT'), Array.from({ length: 10 }, (_, i) => `busy${111 + i}`).sort(), 'the busy visitor\'s ten latest searches')

  // Documents keyed by content id: read from the clicks' facts, and from their events for facts
  // derived before the facts kept it (NULL), with the same answer.
  const contentId = async () => (await get(r, `/api/v1/quality?${range}`)).body.data.checks.find((c: { code: string }) => c.code === 'MISSING_CONTENT_ID')
  const known = await contentId()
  t.match(known, { failed: 1, total: 3 })
  await r.app.db.query(`UPDATE report_clicks SET content_id = NOT content_id WHERE org_id = 'acme'`)
  t.match(await contentId(), { failed: 2, total: 3 }, 'the facts\' column is read')
  await r.app.db.query(`UPDATE report_clicks SET content_id = NULL WHERE org_id = 'acme'`)
  t.same(await contentId(), known, 'facts without it: their events are looked up')
})
