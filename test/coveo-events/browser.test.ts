import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { bundle, launchChromium, openPage, pageServer, RequestLog, screenshot } from '../helpers/browser.js'
import { storedEvents } from '../coveo/helpers.js'

const SEARCH_UID = '55555555-2222-4333-8444-555555555555'

// The page's code, bundled from node_modules as a site would: Headless 4 in its default analytics
// mode (which logs through the relay 1.x it bundles, by sendBeacon) and @coveo/relay 2.x (fetch).
const PAGE_SOURCE = `
import { buildSearchEngine, buildResultList, buildInteractiveResult } from '@coveo/headless'
import { createRelay } from '@coveo/relay'

const product = { productId: 'sku-7', name: 'Headphones', price: 79.99 }

Object.assign(window, {
  async searchAndClick(config) {
    const engine = buildSearchEngine({
      configuration: {
        organizationId: 'acme',
        accessToken: config.key,
        search: { proxyBaseUrl: location.origin + '/rest/search/v2', searchHub: 'Shop' },
        analytics: { proxyBaseUrl: config.events, trackingId: 'compat_site' },
      },
      loggerOptions: { level: 'silent' },
    })
    const list = buildResultList(engine)
    await new Promise((resolve) => {
      list.subscribe(() => { if (list.state.results.length > 0) resolve() })
      engine.executeFirstSearch()
    })
    document.body.innerHTML = '<ol>' + list.state.results.map((r) => '<li>' + r.title + '</li>').join('') + '</ol>'
    buildInteractiveResult(engine, { options: { result: list.state.results[1] } }).select()
    return list.state.results.length
  },

  async relayEvents(config) {
    const relay = createRelay({ url: config.events, token: config.key, trackingId: 'compat_relay' })
    const emits = [
      relay.emit('itemView', { itemMetadata: { uniqueFieldName: 'permanentid', uniqueFieldValue: 'perm-9', title: 'Viewed', url: 'https://shop.example/p9' } }),
      relay.emit('ec.cartAction', { action: 'add', currency: 'USD', product, quantity: 2 }),
      relay.emit('ec.purchase', { currency: 'USD', products: [{ product, quantity: 2 }], transaction: { id: 'tx-42', revenue: 159.98 } }),
    ]
    const settled = await Promise.allSettled(emits)
    const invalid = await relay
      .emit('ec.cartAction', { action: 'update', currency: 'USD', product, quantity: 1 })
      .then(() => 'resolved', (err) => err.message)
    return { settled: settled.map((s) => s.status), invalid, clientId: relay.getMeta('x').clientId }
  },
})
`

function searchResult(n: number) {
  return {
    title: `Result ${n}`, uri: `https://shop.example/doc-${n}`, printableUri: `https://shop.example/doc-${n}`, clickUri: `https://shop.example/doc-${n}`,
    uniqueId: `u${n}`, excerpt: '', firstSentences: null, summary: null, flags: '', hasHtmlVersion: false, hasMobileHtmlVersion: false,
    score: 100, percentScore: 100, rankingInfo: null, rating: 0, isTopResult: false, isRecommendation: false, isUserActionView: false,
    titleHighlights: [], firstSentencesHighlights: [], excerptHighlights: [], printableUriHighlights: [], summaryHighlights: [], absentTerms: [],
    searchUid: SEARCH_UID,
    raw: { urihash: `h${n}`, permanentid: `perm-${n}`, source: 'Docs', collection: 'default', author: 'Ann Author', language: ['English'], objecttype: 'Doc' },
  }
}

/** A stand-in for Coveo's Search API (the search backend the page uses, not searchtrack). */
function fakeSearchApi(server: FastifyInstance): void {
  server.post('/rest/search/v2', async () => ({
    totalCount: 2, totalCountFiltered: 2, duration: 31, indexDuration: 5, requestDuration: 10, searchUid: SEARCH_UID,
    pipeline: 'default', apiVersion: 2, basicExpression: '', advancedExpression: '', largeExpression: '', constantExpression: '',
    disjunctionExpression: '', mandatoryExpression: '', userIdentities: [], rankingExpressions: [], executionReport: null,
    index: 'i', indexRegion: 'us', indexToken: '', refinedKeywords: [], triggers: [], termsToHighlight: {}, phrasesToHighlight: {},
    queryCorrections: [], groupByResults: [], facets: [], suggestedFacets: [], categoryFacets: [], results: [searchResult(1), searchResult(2)],
    questionAnswer: { answerFound: false, relatedQuestions: [] }, extendedResults: {},
  }))
  server.post('/rest/search/v2/querySuggest', async () => ({ completions: [], responseId: 'r' }))
}

t.test('Headless 4 (next analytics mode) and relay 2 in Chromium log to the Event Protocol from another origin', async (t) => {
  const log = new RequestLog()
  const { app } = await buildTestApp(t, { beforeRegister: log.hook })
  const { key } = await createKey(app, 'acme')
  const searchtrack = await listen(app)
  const events = `${searchtrack}/rest/organizations/acme/events/v1`
  const origin = await pageServer(t, '<!doctype html><html><head><meta charset="utf-8"><title>shop</title><script src="/page.js"></script></head><body></body></html>', await bundle(PAGE_SOURCE), fakeSearchApi)
  const browser = await launchChromium(t)
  const { page, errors } = await openPage(browser, `${origin}/`)

  const isEventPost = (r: { method: string; url: string }) => r.method === 'POST' && r.url.startsWith('/rest/organizations/acme/events/v1')
  t.equal(await page.evaluate('searchAndClick(' + JSON.stringify({ key, events }) + ')'), 2, 'Headless ran its search against the stand-in')
  await log.waitFor(isEventPost)
  const beacon = log.seen.find(isEventPost)!
  t.match(beacon, { status: 200, url: /\?access_token=st_/, headers: { 'content-type': 'application/json', origin } }, 'relay 1.x sent a beacon with the token in the query')
  t.match(log.seen.find((r) => r.method === 'OPTIONS' && r.url.startsWith('/rest/organizations/acme/events/v1?access_token=')), { status: 204 }, 'and it was preflighted')

  const relay = (await page.evaluate('relayEvents(' + JSON.stringify({ key, events }) + ')')) as { settled: string[]; invalid: string; clientId: string }
  t.same(relay.settled, ['fulfilled', 'fulfilled', 'fulfilled'], 'every relay 2.x emit() resolved')
  t.equal(relay.invalid, 'Received event was rejected for processing: Field "action" must be one of add, remove, got "update"', 'an invalid event rejects with the service\'s message')
  await screenshot(page, 'coveo-events')
  t.same(errors, [], 'no CORS or network error in the page')

  const rows = await storedEvents(app)
  // The three emits ran at once, so they may have arrived in any order.
  t.same(rows.map((r) => r.event_type).sort(), ['ec.cartAction', 'ec.purchase', 'itemClick', 'itemView'])
  const row = (type: string) => rows.find((r) => r.event_type === type)
  t.match(row('itemClick'), {
    protocol: 'coveo-events', type: 'click', search_query_uid: SEARCH_UID, document_position: 2, document_id: 'perm-2', document_title: 'Result 2',
    document_url: 'https://shop.example/doc-2', tracking_id: 'compat_site', browser: /^Chrome/, extra: { contentIdKey: 'permanentid', source: [/^@coveo\/headless@4/, /^relay@1/] },
  })
  t.match(row('itemView'), { type: 'view', document_id: 'perm-9', document_title: 'Viewed', tracking_id: 'compat_relay', extra: { source: [/^relay@2/] } })
  t.match(row('ec.cartAction'), { type: 'commerce', event_value: 'add', price: '79.99', quantity: '2', currency: 'USD', document_id: 'sku-7' })
  t.match(row('ec.purchase'), { type: 'commerce', revenue: '159.98', transaction_id: 'tx-42', currency: 'USD' })
  t.ok(rows.every((r) => r.visitor_id === relay.clientId), 'both relays sent the client id they keep in localStorage: one visitor')
  t.equal(new Set(rows.map((r) => r.visit_id)).size, 1, 'and one visit')
})
