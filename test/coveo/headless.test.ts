import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { buildSearchEngine, buildSearchBox, buildResultList, buildInteractiveResult } from '@coveo/headless'
import { buildTestApp, createKey, listen } from '../helpers/app.js'
import { storedEvents } from './helpers.js'

const SEARCH_UID = '44444444-2222-4333-8444-555555555555'

/**
 * A stand-in for Coveo's Search API (the search engine Headless queries; not our service): one
 * result, enough for Headless to render a result list and log a click on it.
 */
async function fakeSearchApi(t: Test): Promise<string> {
  const api = Fastify()
  const result = {
    title: 'Doc', uri: 'https://e.com/d', printableUri: 'https://e.com/d', clickUri: 'https://e.com/d', uniqueId: 'u1',
    excerpt: '', firstSentences: null, summary: null, flags: '', hasHtmlVersion: false, hasMobileHtmlVersion: false,
    score: 100, percentScore: 100, rankingInfo: null, rating: 0, isTopResult: false, isRecommendation: false,
    isUserActionView: false, titleHighlights: [], firstSentencesHighlights: [], excerptHighlights: [], printableUriHighlights: [],
    summaryHighlights: [], absentTerms: [], searchUid: SEARCH_UID,
    raw: { urihash: 'h1', permanentid: 'pid-1', source: 'Docs', collection: 'default', author: 'me', language: ['English'], objecttype: 'Doc' },
  }
  api.post('/rest/search/v2', async () => ({
    totalCount: 1, totalCountFiltered: 1, duration: 31, indexDuration: 5, requestDuration: 10, searchUid: SEARCH_UID,
    pipeline: 'default', apiVersion: 2, basicExpression: 'hello', advancedExpression: '', largeExpression: '', constantExpression: '',
    disjunctionExpression: '', mandatoryExpression: '', userIdentities: [], rankingExpressions: [], executionReport: null,
    index: 'i', indexRegion: 'us', indexToken: '', refinedKeywords: [], triggers: [], termsToHighlight: {}, phrasesToHighlight: {},
    queryCorrections: [], groupByResults: [], facets: [], suggestedFacets: [], categoryFacets: [], results: [result],
    questionAnswer: { answerFound: false, relatedQuestions: [] }, extendedResults: {},
  }))
  api.post('/rest/search/v2/querySuggest', async () => ({ completions: [], responseId: 'r' }))
  api.post('/rest/search/v2/facet', async () => ({ values: [], moreValuesAvailable: false }))
  await api.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => api.close())
  const address = api.server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
}

t.test('@coveo/headless in legacy analytics mode logs a search and a click to /rest/v15/analytics', async (t) => {
  const landed: Record<string, () => void> = {}
  const waitFor = (type: string) => new Promise<void>((resolve) => (landed[type] = resolve))
  const paths: string[] = []
  const { app } = await buildTestApp(t, {
    beforeRegister: (server) =>
      server.addHook('onResponse', async (request, reply) => {
        paths.push(`${request.method} ${request.url.split('?')[0]} ${reply.statusCode}`)
        const type = /\/analytics\/(\w+)/.exec(request.url)?.[1]
        if (request.method === 'POST' && type) landed[type]?.()
      }),
  })
  const { key } = await createKey(app, 'acme')
  const analyticsUrl = await listen(app)
  const searchUrl = await fakeSearchApi(t)

  const engine = buildSearchEngine({
    configuration: {
      organizationId: 'acme',
      accessToken: key,
      search: { proxyBaseUrl: `${searchUrl}/rest/search/v2`, searchHub: 'MyHub' },
      analytics: { analyticsMode: 'legacy', proxyBaseUrl: analyticsUrl },
    },
    loggerOptions: { level: 'silent' },
  })
  const searchBox = buildSearchBox(engine)
  const resultList = buildResultList(engine)
  searchBox.updateText('hello')
  const searchLanded = waitFor('search')
  searchBox.submit()
  await searchLanded
  t.equal(resultList.state.results.length, 1, 'Headless ran its search against the stand-in')

  const clickLanded = waitFor('click')
  buildInteractiveResult(engine, { options: { result: resultList.state.results[0]! } }).select()
  await clickLanded

  t.same(paths.filter((p) => p.startsWith('POST')), ['POST /rest/v15/analytics/search 200', 'POST /rest/v15/analytics/click 200'])
  const rows = await storedEvents(app)
  t.same(rows.map((r) => r.type), ['search', 'click'])
  t.match(rows[0], { query_text: 'hello', search_query_uid: SEARCH_UID, origin_level1: 'MyHub', action_cause: 'searchboxSubmit', number_of_results: 1, protocol: 'coveo' })
  t.match(rows[1], { search_query_uid: SEARCH_UID, document_position: 1, document_title: 'Doc', document_url: 'https://e.com/d', source_name: 'Docs', document_id: 'pid-1', action_cause: 'documentOpen' })
  t.ok(rows[0]!.visitor_id && rows[1]!.visitor_id, 'both rows carry the visitor Headless sent')
})
