import t from 'tap'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { bundle, launchChromium, openPage, pageServer, RequestLog, screenshot } from '../helpers/browser.js'
import { storedEvents } from '../coveo/helpers.js'

// Search UI's headless driver with the App Search connector (clicks go to the connector's
// endpointBase: searchtrack) and the analytics plugin with the Behavioral Analytics browser
// tracker (endpoint: searchtrack). Searches are answered by the page itself through Search UI's
// onSearch hook, standing in for the search backend a reverse proxy would route them to.
const PAGE_SOURCE = `
import { SearchDriver } from '@elastic/search-ui'
import AppSearchAPIConnector from '@elastic/search-ui-app-search-connector'
import AnalyticsPlugin from '@elastic/search-ui-analytics-plugin'
import browserTracker from '@elastic/behavioral-analytics-browser-tracker'

const result = (id, title) => ({ id: { raw: id }, title: { raw: title }, _meta: { id, engine: 'national-parks', score: 1 } })

Object.assign(window, {
  async run(config) {
    const tracker = browserTracker.createTracker({ endpoint: config.searchtrack, collectionName: 'website', apiKey: config.key })
    const driver = new SearchDriver({
      apiConnector: new AppSearchAPIConnector({ searchKey: 'search-' + config.key, engineName: 'national-parks', endpointBase: config.searchtrack }),
      onSearch: async (state) => ({
        results: [result('doc-1', 'Everglades'), result('doc-2', 'Dry Tortugas')],
        totalResults: 2, totalPages: 1, requestId: 'as-req-' + state.filters.length, facets: {}, rawResponse: {},
      }),
      plugins: [AnalyticsPlugin({ client: tracker })],
      trackUrlState: false,
    })
    // A search is complete once its answer (named after the filters it had) is in the state.
    const searched = (filters) => new Promise((resolve) => {
      const check = (s) => { if (!s.isLoading && s.requestId === 'as-req-' + filters) { driver.unsubscribeToStateChanges(check); resolve() } }
      driver.subscribeToStateChanges(check)
    })
    let done = searched(0)
    driver.getActions().setSearchTerm('everglade')
    await done
    done = searched(1)
    driver.getActions().addFilter('states', 'Florida', 'any')
    await done
    document.body.innerHTML = '<ol>' + driver.getState().results.map((r) => '<li>' + r.title.raw + '</li>').join('') + '</ol>'
    driver.getActions().trackClickThrough('doc-2')
    browserTracker.trackPageView({})
    return driver.getState().requestId
  },
})
`

t.test('Search UI in Chromium: an App Search click and Behavioral Analytics search, click and page view', async (t) => {
  const log = new RequestLog()
  const { app } = await buildTestApp(t, { beforeRegister: log.hook })
  const { key } = await createKey(app, 'acme')
  const searchtrack = await listen(app)
  const origin = await pageServer(t, '<!doctype html><html><head><meta charset="utf-8"><title>National parks</title><script src="/page.js"></script></head><body></body></html>', await bundle(PAGE_SOURCE))
  const browser = await launchChromium(t)
  const { page, errors } = await openPage(browser, `${origin}/`)

  const requestId = await page.evaluate('run(' + JSON.stringify({ searchtrack, key }) + ')')
  t.equal(requestId, 'as-req-1')
  const posted = (path: string) => (r: { method: string; url: string }) => r.method === 'POST' && r.url.split('?')[0] === path
  await log.waitFor(posted('/api/as/v1/engines/national-parks/click.json'))
  await log.waitFor(posted('/_application/analytics/website/event/search_click'))
  await log.waitFor(posted('/_application/analytics/website/event/page_view'))
  await log.waitFor((r) => posted('/_application/analytics/website/event/search')(r) && log.seen.filter(posted('/_application/analytics/website/event/search')).length >= 2)

  const preflight = log.seen.find((r) => r.method === 'OPTIONS' && r.url.startsWith('/api/as/'))
  t.match(preflight, { status: 204, headers: { 'access-control-request-headers': /x-swiftype-client/ } }, 'the click was preflighted with its client headers, and the preflight passed')
  t.ok(log.seen.filter((r) => r.method === 'POST').every((r) => r.status >= 200 && r.status < 300), 'every post was accepted')
  await screenshot(page, 'search-ui')
  t.same(errors, [], 'no CORS, network or unhandled error in the page')

  const rows = await storedEvents(app)
  const click = rows.find((r) => r.protocol === 'app-search')
  t.match(click, {
    type: 'click', source_name: 'national-parks', document_id: 'doc-2', query_text: 'everglade', search_query_uid: 'as-req-1',
    extra: { tags: ['results'], swiftypeClient: /^elastic-app-search-javascript /, clientMeta: /js=browser/ }, browser: /^Chrome/,
  })
  const analytics = rows.filter((r) => r.protocol === 'behavioral-analytics')
  const searches = analytics.filter((r) => r.event_type === 'search')
  t.equal(searches.length, 2, 'one search event per completed search')
  // The tracker's posts are not awaited by the page, and each may wait for its own preflight: they
  // arrive in any order.
  t.same(searches.map((r) => JSON.stringify((r.extra as { filters: object }).filters)).sort(), ['{"states":["Florida"]}', '{}'])
  t.match(searches.find((r) => (r.extra as { filters: { states?: string[] } }).filters.states), { type: 'search', query_text: 'everglade', number_of_results: 2, tracking_id: 'website', extra: { filters: { states: ['Florida'] }, pagination: { current: 1, size: 20 } } })
  const searchClick = analytics.find((r) => r.event_type === 'search_click')
  t.match(searchClick, { type: 'click', document_id: 'doc-2', source_name: 'results', query_text: 'everglade', extra: { filters: { states: ['Florida'] } } })
  const view = analytics.find((r) => r.event_type === 'page_view')
  t.match(view, { type: 'view', document_url: `${origin}/`, document_title: 'National parks' })
  t.equal(new Set(analytics.map((r) => r.visitor_id)).size, 1, 'the tracker\'s EA_UID is one visitor')
  t.equal(new Set(analytics.map((r) => (r.extra as { sessionId: string }).sessionId)).size, 1, 'and its EA_SID one session')
})
