import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../../auth/errors.js'
import { assertOriginAllowed } from '../../auth/origins.js'
import type { Principal } from '../../auth/principal.js'
import { classifyError } from '../../errors.js'
import { classifyUserAgent, maskIp } from '../../events/enrich.js'
import { newEvent, type TrackedEvent } from '../../events/event.js'
import { truncate } from '../../events/truncate.js'
import { jsonBodyParser } from '../../http/limits.js'
import { idempotencyKey, IDEMPOTENCY_HEADER } from '../../http/idempotency.js'
import { judgeEvent } from './catalogue.js'
import { EventProtocolError } from './errors.js'
import { toEventInput, type RequestContext } from './mapping.js'
import { validateV15 } from './validate-v15.js'

const PROTOCOL = 'coveo-events'
export const MAX_EVENTS_PER_REQUEST = 100

/**
 * Where the Event Protocol is served. Headless posts to its `analytics.proxyBaseUrl` verbatim and
 * relay users give a full URL, so the path is whatever the user typed: Coveo's own shape (only the
 * host swapped), the short form whose org comes from the token, and either under one reverse-proxy
 * segment (a proxy mounted deeper strips its prefix before forwarding).
 */
export const EVENT_PROTOCOL_BASES = [
  '/rest/organizations/:org/events/v1',
  '/events/v1',
  '/:prefix/rest/organizations/:org/events/v1',
  '/:prefix/events/v1',
]

const errorSchema = {
  type: 'object',
  required: ['message', 'type'],
  properties: { message: { type: 'string' }, type: { type: 'string' } },
} as const

const eventsResponse = {
  type: 'object',
  required: ['events'],
  properties: {
    events: {
      type: 'array',
      items: {
        type: 'object',
        required: ['accepted'],
        properties: { accepted: { type: 'boolean' }, errorCode: { type: 'string' }, errorMessage: { type: 'string' } },
      },
    },
  },
} as const

const issueSchema = {
  type: 'object',
  required: ['type', 'message', 'path'],
  properties: { type: { type: 'string' }, message: { type: 'string' }, path: { type: 'string' } },
} as const

const verdictSchema = {
  type: 'object',
  required: ['valid', 'errors'],
  properties: { valid: { type: 'boolean' }, errors: { type: 'array', items: issueSchema } },
} as const

const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const

/** The Event Protocol's request-level error shape (the v15 one; relay ignores error bodies). */
export function renderEventProtocolError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  if (e.internal) request.log.error({ err }, 'event protocol request failed')
  else request.log.info({ type: e.code, message: e.message }, 'event protocol request refused')
  request.server.metrics.eventsRejected.inc({ protocol: PROTOCOL, reason: e.code })
  return reply.code(e.statusCode).headers(e.headers).send({ message: e.message, type: e.code })
}

/** The token: `Authorization: Bearer` (relay 2.x) wins over the `access_token` query (relay 1.x beacons). */
function requestToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw new AuthError('InvalidToken', 'The Authorization header must read "Bearer <token>"')
    return match[1]
  }
  return stringParam((request.query as Record<string, unknown>).access_token)
}

function stringParam(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return typeof v === 'string' && v !== '' ? v : undefined
}

const principals = new WeakMap<FastifyRequest, Principal>()

/**
 * Credentials travel in the header or the query, so they are checked before the body is read: a
 * request with bad credentials is refused whatever it carries. The path's `{org}` (or `?org=` on
 * the short path, for platform keys) must be an org the credential reaches.
 */
async function authenticate(request: FastifyRequest): Promise<void> {
  if (request.is404) return
  const params = request.params as { org?: string }
  const org = params.org ?? stringParam((request.query as Record<string, unknown>).org)
  const principal = await request.server.auth.require(requestToken(request), 'analytics:push', org)
  await assertOriginAllowed(request, principal.orgId)
  principals.set(request, principal)
}

function requestContext(request: FastifyRequest, principal: Principal): RequestContext {
  const header = request.headers['user-agent']
  const userAgent = header ? truncate(header, 1024) : null
  return { principal, userAgent, ua: classifyUserAgent(userAgent), clientIp: maskIp(request.ip) }
}

/** The body as the array of events it must be, or a request-level 400. */
function eventArray(body: unknown): unknown[] {
  if (!Array.isArray(body)) {
    throw new EventProtocolError(400, 'InvalidObject', 'The body must be a JSON array of events (even for one event)')
  }
  if (body.length === 0) throw new EventProtocolError(400, 'InvalidObject', 'The body must hold at least one event')
  if (body.length > MAX_EVENTS_PER_REQUEST) {
    throw new EventProtocolError(400, 'InvalidObject', `The body holds ${body.length} events; at most ${MAX_EVENTS_PER_REQUEST} are accepted per request`)
  }
  return body
}

type Verdict = { accepted: true } | { accepted: false; errorCode: string; errorMessage: string }
const ACCEPTED: Verdict = { accepted: true }

async function logEvents(request: FastifyRequest): Promise<{ events: Verdict[] }> {
  const app = request.server
  const items = eventArray(request.body)
  const ctx = requestContext(request, principals.get(request)!)
  const key = idempotencyKey(request.headers[IDEMPOTENCY_HEADER])
  const verdicts: Verdict[] = new Array(items.length)
  const events: TrackedEvent[] = []
  let truncated: Array<{ event: number; fields: string[] }> | undefined
  for (let i = 0; i < items.length; i++) {
    const judged = judgeEvent(items[i])
    if (!judged.ok) {
      const first = judged.issues[0]!
      verdicts[i] = { accepted: false, errorCode: first.type, errorMessage: first.message }
      app.metrics.eventsRejected.inc({ protocol: PROTOCOL, reason: first.type })
      continue
    }
    verdicts[i] = ACCEPTED
    if (judged.event.truncated.length > 0) (truncated ??= []).push({ event: i, fields: judged.event.truncated })
    const input = toEventInput(judged.event, ctx)
    // A retried array is stored once, element by element (its elements are its events).
    if (key !== undefined) input.idempotencyKey = `coveo-events:${key}:${i}`
    events.push(newEvent(input, app.clock))
  }
  if (truncated) request.log.info({ truncated }, 'event protocol fields truncated to their column length')
  if (events.length > 0) {
    // Answered only once the accepted events are committed, as for every protocol.
    await app.writer.write(events)
  }
  return { events: verdicts }
}

const routes: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', authenticate)
  app.setNotFoundHandler((request, reply) => {
    const rest = request.url.split('?')[0]!.slice(prefixLength(request))
    if (OUR_PATHS.test(rest)) {
      const error = new EventProtocolError(405, 'MethodNotAllowed', `${request.method} is not allowed here: use POST`, { allow: 'POST, OPTIONS' })
      return renderEventProtocolError(error, request, reply)
    }
    return renderEventProtocolError(new EventProtocolError(404, 'NotFound', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply)
  })

  app.post('', { schema: { response: { 200: eventsResponse, ...errorResponses } } }, logEvents)
  // The base with a trailing slash too: a URL pasted into Headless' proxyBaseUrl or relay's url
  // often ends with one.
  app.post('/', { prefixTrailingSlash: 'slash', schema: { response: { 200: eventsResponse, ...errorResponses } } }, logEvents)

  // Validation stores nothing and touches no visit: the verdict of every element, every fault.
  app.post('/validate', { schema: { response: { 200: { type: 'array', items: verdictSchema }, ...errorResponses } } }, async (request) =>
    eventArray(request.body).map((item) => {
      const judged = judgeEvent(item)
      return judged.ok ? { valid: true, errors: [] } : { valid: false, errors: judged.issues }
    }),
  )

  app.post<{ Params: { type: string } }>('/analytics/:type/validate', { schema: { response: errorResponses } }, async (request) =>
    validateV15(request.params.type, request.body),
  )

  // Coveo validates Search and Commerce API requests here; searchtrack serves neither API.
  app.post('/requests/validate', { schema: { response: errorResponses } }, async () => {
    throw new EventProtocolError(501, 'NotImplemented', 'searchtrack does not serve the Search or Commerce API, so it does not validate their requests')
  })
}

// What follows a base on the routes above, for telling 405 (our path, another method) from 404.
const OUR_PATHS = /^(\/validate|\/analytics\/[^/]+\/validate|\/requests\/validate)?$/

/** Length of the base in the request's path: 3 or 5 segments, one more with a proxy prefix. */
function prefixLength(request: FastifyRequest): number {
  const path = request.url.split('?')[0]!
  const match = /^(\/[^/]+)?(\/rest\/organizations\/[^/]+)?\/events\/v1/.exec(path)
  return match ? match[0].length : path.length
}

/**
 * The Coveo Event Protocol (`…/events/v1`): a JSON array of events with a `meta` object each, as
 * `@coveo/headless` (next analytics mode) and `@coveo/relay` send them; every element is judged
 * alone and answered `{"events": [{"accepted": …}]}`.
 */
export const coveoEventsProtocol: FastifyPluginAsync = async (app: FastifyInstance) => {
  // Relay 1.x sends an application/json Blob; text/plain holding JSON costs nothing to accept, and
  // goes through the same UTF-8, nesting and prototype checks as a JSON body.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, jsonBodyParser(app.config.JSON_MAX_DEPTH))
  app.setErrorHandler(renderEventProtocolError)
  for (const prefix of EVENT_PROTOCOL_BASES) await app.register(routes, { prefix })
}
