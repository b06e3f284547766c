import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { authenticate, authenticateEarly } from './access.js'
import { InbentaError } from './errors.js'
import { DataKeyStore } from './priorities.js'
import { readSession, summarizeResults } from './reports.js'
import { DataKeysResponse, ErrorBody, ResultsQuery, ResultsResponse, SessionReportResponse } from './schemas.js'

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody }

/** Longest range a summary may cover: one scan of a year of one org's events is the ceiling. */
const MAX_RANGE_MS = 366 * 24 * 60 * 60 * 1000

/**
 * The read side of sessions: one session's actions and result, a summary of results over a time
 * range, the org's data keys. Needs analytics:read (an access token or a searchtrack API key).
 */
export const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const dataKeys = new DataKeyStore(app.db)
  const readOptions = { allowApiKey: true }
  const early = authenticateEarly('analytics:read', readOptions)

  app.get(
    '/reports/sessions/:sessionId',
    { onRequest: early, schema: { params: Type.Object({ sessionId: Type.String() }), response: { 200: SessionReportResponse, ...errors } } },
    async (request) => {
      const principal = await authenticate(request, 'analytics:read', readOptions)
      const priorities = await dataKeys.priorities(principal.orgId)
      const session = await readSession(app.db, principal.orgId, request.params.sessionId, priorities)
      if (!session) throw new InbentaError(404, `No session ${request.params.sessionId}`)
      return session
    },
  )

  app.get('/reports/results', { onRequest: early, schema: { querystring: ResultsQuery, response: { 200: ResultsResponse, ...errors } } }, async (request) => {
    const principal = await authenticate(request, 'analytics:read', readOptions)
    const from = new Date(request.query.from)
    const to = new Date(request.query.to)
    if (!(from < to)) throw new InbentaError(400, '`from` must be before `to`')
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw new InbentaError(400, 'The range may cover at most 366 days')
    return summarizeResults(app.db, principal.orgId, from, to, await dataKeys.priorities(principal.orgId))
  })

  app.get('/reports/data-keys', { onRequest: early, schema: { response: { 200: DataKeysResponse, ...errors } } }, async (request) => {
    const principal = await authenticate(request, 'analytics:read', readOptions)
    return { dataKeys: await dataKeys.list(principal.orgId) }
  })
}
