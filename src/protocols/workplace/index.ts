import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../../auth/errors.js'
import { assertOriginAllowed } from '../../auth/origins.js'
import type { Principal } from '../../auth/principal.js'
import { classifyError, HttpError } from '../../errors.js'
import { clientFields } from '../../events/enrich.js'
import { newEvent } from '../../events/event.js'
import { authenticate } from './auth.js'
import { idempotencyKey, IDEMPOTENCY_HEADER } from '../../http/idempotency.js'
import { validateAnalyticsEvent, type AnalyticsEvent } from './validate.js'

const PROTOCOL = 'workplace'
// document_position is an int4 column; rank has no upper bound in the contract, so a rank whose
// position does not fit is kept in `extra` only rather than failing the batch.
const MAX_POSITION = 2_147_483_647

/** A client error whose messages are already in the protocol's `errors` list form. */
class ValidationError extends HttpError {
  constructor(readonly errors: string[]) {
    super(400, 'InvalidEvent', errors.join('; '))
  }
}

const errorsSchema = {
  type: 'object',
  required: ['errors'],
  additionalProperties: false,
  properties: { errors: { type: 'array', items: { type: 'string' } } },
} as const

const routeSchema = {
  // The body is validated by validateAnalyticsEvent (one message per violation); the querystring
  // is not validated at all, since the Node client turns unknown parameters into query parameters.
  response: {
    200: { type: 'object', additionalProperties: false, properties: {} },
    '4xx': errorsSchema,
    '5xx': errorsSchema,
  },
} as const

/** Workplace Search's error shape `{"errors": ["…"]}` for any error. */
export function renderWorkplaceError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  // Elastic answers every credential problem with 401, whatever it is (unknown key, other org,
  // missing privilege), and its clients treat 401 as "fix your credentials".
  const statusCode = err instanceof AuthError ? 401 : e.statusCode
  const errors = err instanceof ValidationError ? err.errors : [e.message]
  if (e.internal) request.log.error({ err }, 'workplace event failed')
  request.server.metrics.eventsRejected.inc({ protocol: PROTOCOL, reason: e.code })
  const headers = statusCode === 401 ? { ...e.headers, 'www-authenticate': 'Bearer realm="searchtrack"' } : e.headers
  return reply.code(statusCode).headers(headers).send({ errors })
}

/**
 * Elastic Workplace Search analytics events (`POST /api/ws/v1/analytics/event`): click and feedback
 * events on a search result, stored in the one event model next to Coveo's clicks. Everything
 * under `/api/ws` answers in Workplace's error shape, unknown paths included.
 */
export const workplaceProtocol: FastifyPluginAsync = async (app) => {
  await app.register(workplaceRoutes, { prefix: '/api/ws' })
}

const workplaceRoutes: FastifyPluginAsync = async (app) => {
  // Fastify reads text/plain as a string by default; the contract is JSON only, and a text/plain
  // body would otherwise be answered "must be a JSON object" instead of naming the real mistake.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler(renderWorkplaceError)
  app.setNotFoundHandler((request, reply) =>
    renderWorkplaceError(new HttpError(404, 'NotFound', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply),
  )

  // Credentials are checked before the body is read: a caller without them gets 401 whatever it
  // sent, and its body is never parsed.
  const principals = new WeakMap<FastifyRequest, Principal>()
  app.addHook('onRequest', async (request) => {
    const query = request.query as Record<string, unknown>
    const org = typeof query.org === 'string' && query.org !== '' ? query.org : undefined
    const principal = await authenticate(request, org)
    await assertOriginAllowed(request, principal.orgId)
    principals.set(request, principal)
  })

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = principals.get(request)!
    const validation = validateAnalyticsEvent(request.body)
    if (!validation.ok) throw new ValidationError(validation.errors)
    const key = idempotencyKey(request.headers[IDEMPOTENCY_HEADER])

    await app.writer.write([newEvent(toTrackedEvent(validation.event, principal, request, key), app.clock)])
    // Search UI's connector calls response.json(): an empty body would break it.
    return reply.code(200).type('application/json').send({})
  }

  // The Ruby client sends the trailing slash; Fastify treats the two paths as different routes.
  for (const url of ['/v1/analytics/event', '/v1/analytics/event/']) {
    app.post(url, { schema: routeSchema }, handler)
  }
}

function toTrackedEvent(
  input: AnalyticsEvent,
  principal: Principal,
  request: FastifyRequest,
  key: string | undefined,
): Parameters<typeof newEvent>[0] {
  const userAgent = request.headers['user-agent'] ?? null
  const position = input.rank + 1
  const clientMeta = request.headers['x-elastic-client-meta']
  const extra: Record<string, unknown> = { page: input.page, rank: input.rank }
  if (input.type === 'click') extra.event = input.event
  if (key !== undefined) extra.idempotencyKey = key
  if (typeof clientMeta === 'string') extra.clientMeta = clientMeta.slice(0, 256)

  return {
    orgId: principal.orgId,
    protocol: PROTOCOL,
    type: input.type,
    // Workplace events name no visitor: Elastic attributes them to the user the access token was
    // issued for. The closest here is a search token's user; an API key says who the *app* is,
    // not who clicked, and an id made up per request would invent one-event visitors and visits.
    visitorId: principal.userId ?? null,
    username: principal.userId ?? null,
    userDisplayName: principal.userDisplayName ?? null,
    anonymous: principal.userId === undefined,
    originLevel1: principal.searchHub ?? null,
    queryPipeline: principal.pipeline ?? null,
    searchQueryUid: input.query_id,
    documentId: input.document_id,
    sourceName: input.content_source_id,
    // Workplace ranks are 0-based over the whole result set; positions are 1-based as in Coveo.
    documentPosition: position <= MAX_POSITION ? position : null,
    feedbackScore: input.type === 'feedback' ? input.score : null,
    ...clientFields(userAgent, request.ip),
    extra,
    idempotencyKey: key === undefined ? null : `workplace:${key}`,
  }
}
