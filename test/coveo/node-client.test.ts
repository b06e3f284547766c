import t from 'tap'
import { CoveoAnalyticsClient } from 'coveo.analytics'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { storedEvents } from './helpers.js'

// The real npm client against a listening searchtrack: the contract is whatever it sends and
// whatever makes its promise resolve.
t.test('coveo.analytics in Node: search, click, custom and collect land with their columns', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const endpoint = await listen(app)

  for (const variant of [{ endpoint }, { endpoint: `${endpoint}/rest/ua` }, { endpoint: `${endpoint}/my-proxy`, isCustomEndpoint: true }]) {
    t.test(`endpoint ${variant.endpoint.replace(endpoint, '') || '(bare origin)'}`, async (t) => {
      await app.db.query('DELETE FROM events')
      const client = new CoveoAnalyticsClient({ token: key, ...variant })
      const searchQueryUid = '11111111-2222-4333-8444-555555555555'

      const search = await client.sendSearchEvent({
        language: 'en', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        queryText: 'hello world', actionCause: 'searchboxSubmit', responseTime: 123, numberOfResults: 42,
        advancedQuery: '@source==Docs', queryPipeline: 'default', originLevel1: 'MyHub', originLevel2: 'All',
        originLevel3: 'https://example.com/ref', originContext: 'Search', anonymous: false, searchQueryUid,
        facetState: [{ field: 'author', id: 'author', value: 'bob', valuePosition: 1, displayValue: 'Bob', facetType: 'specific', state: 'selected', facetPosition: 1, title: 'Author' }],
        customData: { Context_Role: 'dev', somekey: 'v' },
      })
      t.ok(search, 'the search promise resolves with the answer')
      const visitorId = await client.getCurrentVisitorId()
      t.equal(search!.visitorId, visitorId, 'the server echoes the id the client holds')

      const click = await client.sendClickEvent({
        language: 'en', actionCause: 'documentOpen', documentPosition: 3, documentTitle: 'Doc title',
        documentUrl: 'https://example.com/doc', documentUri: 'https://example.com/doc', documentUriHash: 'abcHash',
        sourceName: 'Docs', collectionName: 'default', originLevel1: 'MyHub', searchQueryUid,
        customData: { contentIDKey: 'permanentid', contentIDValue: 'pid-123' },
      })
      t.equal(click!.visitId, search!.visitId, 'same visit')
      const custom = await client.sendCustomEvent({ language: 'en', eventType: 'facet', eventValue: 'facetSearch', lastSearchQueryUid: searchQueryUid, customData: { facetId: 'author' } })
      t.equal(custom!.visitorId, visitorId)
      // The coveoua plugins map their hits to `collect` this way (Measurement Protocol); without
      // a plugin's hooks the hit carries no `t`, and is stored whole all the same.
      client.addEventTypeMapping('pageview', { newEventType: 'collect' as never, variableLengthArgumentsNames: ['page'], addVisitorIdParameter: true, usesMeasurementProtocol: true })
      const collect = await client.sendEvent('pageview', '/some/page', { contentIdKey: 'permanentid', contentIdValue: 'pid-1', contentType: 'Docs', location: 'https://example.com/some/page', title: 'T' })
      t.same(collect, {})
      t.equal(await client.getCurrentVisitorId(), visitorId, 'the client kept its visitor id')

      const rows = await storedEvents(app)
      t.same(rows.map((r) => r.type), ['search', 'click', 'custom', 'collect'])
      t.same([...new Set(rows.map((r) => r.visitor_id))], [visitorId], 'every row has the visitor the client sent')
      const [s, c, u, m] = rows
      t.match(s, {
        protocol: 'coveo', org_id: 'acme', query_text: 'hello world', action_cause: 'searchboxSubmit', response_time_ms: 123,
        number_of_results: 42, advanced_query: '@source==Docs', query_pipeline: 'default', origin_level1: 'MyHub',
        origin_level2: 'All', origin_level3: 'https://example.com/ref', origin_context: 'Search', search_query_uid: searchQueryUid,
        language: 'en', username: 'anonymous', anonymous: false, browser: 'Chrome 120', os: 'Linux', device_category: 'desktop',
        is_bot: false, client_ip: '127.0.0.0', custom_data: { context_role: 'dev', somekey: 'v' },
      })
      t.equal(s!.visit_id, search!.visitId)
      t.equal(s!.event_id, (search as unknown as { searchEventUid: string }).searchEventUid)
      t.match(s!.extra, { facetState: [{ field: 'author', state: 'selected' }] })
      t.match(c, {
        action_cause: 'documentOpen', document_position: 3, document_title: 'Doc title', document_url: 'https://example.com/doc',
        source_name: 'Docs', document_id: 'pid-123', search_query_uid: searchQueryUid,
        custom_data: { contentidkey: 'permanentid', contentidvalue: 'pid-123' },
      })
      t.match(c!.extra, { documentUriHash: 'abcHash', collectionName: 'default', contentIdKey: 'permanentid' })
      t.match(u, { event_type: 'facet', event_value: 'facetSearch', last_search_query_uid: searchQueryUid, custom_data: { facetid: 'author' } })
      t.match(m, { document_url: 'https://example.com/some/page', document_title: 'T' })
      t.match(m!.extra, { cid: visitorId, dp: '/some/page', contentIdKey: 'permanentid' })
    })
  }
})

t.test('coveo.analytics: a new visitor adopts nothing foreign; getVisit and getHealth work', async (t) => {
  const { app } = await buildTestApp(t)
  const { key } = await createKey(app, 'acme')
  const endpoint = await listen(app)
  const client = new CoveoAnalyticsClient({ token: key, endpoint })
  t.same(await client.getHealth(), { status: 'UP' })
  const visit = await client.getVisit()
  t.match(visit.visitorId, /^[0-9a-f-]{36}$/)
  const res = await client.sendCustomEvent({ language: 'en', eventType: 'x', eventValue: 'y' })
  t.equal(res!.visitorId, await client.getCurrentVisitorId())
})

t.test('coveo.analytics rejects cleanly (no crash) on an error answer, which is JSON', async (t) => {
  const { app } = await buildTestApp(t)
  await createKey(app, 'acme')
  const endpoint = await listen(app)
  const client = new CoveoAnalyticsClient({ token: 'st_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', endpoint })
  const errors: unknown[] = []
  const original = console.error
  console.error = (...args: unknown[]) => errors.push(args)
  t.teardown(() => {
    console.error = original
  })
  await t.rejects(client.sendCustomEvent({ language: 'en', eventType: 'x', eventValue: 'y' }), /custom/)
  t.equal((await storedEvents(app)).length, 0)
})
