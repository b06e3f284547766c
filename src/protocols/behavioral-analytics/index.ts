import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../../auth/errors.js'
import { assertOriginAllowed } from '../../auth/origins.js'
import type { Principal } from '../../auth/principal.js'
import { classifyError, HttpError } from '../../errors.js'
import { clientFields } from '../../events/enrich.js'
import { newEvent, type EventInput, type TrackedEvent } from '../../events/event.js'
import { truncate } from '../../events/truncate.js'
import { EVENT_TYPES, EventParseError, parseEvent, type BehavioralEventType, type ParsedEvent } from './validate.js'

const PROTOCOL = 'behavioral-analytics'
const COLLECTION = /^[A-Za-z0-9._-]{1,128}$/
const INT4_MAX = 2_147_483_647

/** A refusal that carries Elasticsearch's error type (`x_content_parse_exception`, …). */
class ElasticError extends HttpError {
  constructor(
    statusCode: number,
    readonly elasticType: string,
    reason: string,
    readonly causedBy?: { type: string; reason: string },
    headers: Record<string, string> = {},
  ) {
    super(statusCode, elasticType, reason, headers)
  }
}

// Elasticsearch's exception type for each status searchtrack answers with.
const TYPE_BY_STATUS: Record<number, string> = {
  400: 'illegal_argument_exception',
  401: 'security_exception',
  403: 'security_exception',
  404: 'resource_not_found_exception',
  405: 'illegal_argument_exception',
  413: 'request_entity_too_large_exception',
  415: 'media_type_header_exception',
  429: 'rejected_execution_exception',
  503: 'unavailable_shards_exception',
}

/**
 * Elasticsearch's error shape, `{"error": {"root_cause": [{type, reason}], type, reason,
 * caused_by?}, "status"}`. The browser tracker logs `caused_by.reason`, else `reason`.
 */
export function renderBehavioralAnalyticsError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  const type = err instanceof ElasticError ? err.elasticType : e.code === 'InvalidJson' || e.code === 'JsonTooDeep' || e.code === 'InvalidEncoding' ? 'x_content_parse_exception' : (TYPE_BY_STATUS[e.statusCode] ?? (e.internal ? 'exception' : 'illegal_argument_exception'))
  const cause = err instanceof ElasticError ? err.causedBy : undefined
  if (e.internal) request.log.error({ err }, 'behavioral analytics event failed')
  else request.log.info({ type: e.code, message: e.message }, 'behavioral analytics event refused')
  request.server.metrics.eventsRejected.inc({ protocol: PROTOCOL, reason: e.code })
  const headers = e.statusCode === 401 ? { ...e.headers, 'www-authenticate': 'ApiKey' } : e.headers
  const error: Record<string, unknown> = { root_cause: [{ type: cause?.type ?? type, reason: cause?.reason ?? e.message }], type, reason: e.message }
  if (cause) error.caused_by = cause
  return reply.code(e.statusCode).headers(headers).send({ error, status: e.statusCode })
}

/**
 * The credential: `Authorization: Apikey <searchtrack key or search token>`, as the browser
 * tracker sends its `apiKey` (used as issued, no base64 wrapping); `Bearer` works too.
 */
function requestToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^(?:Apikey|Bearer)\s+(\S+)\s*$/i.exec(header)
  if (!match) throw new AuthError('InvalidToken', 'unable to authenticate: the Authorization header must read "Apikey <key>"')
  return match[1]
}

const principals = new WeakMap<FastifyRequest, Principal>()

type Params = { collection: string; eventType: string }

const routes: FastifyPluginAsync = async (app) => {
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler(renderBehavioralAnalyticsError)
  app.setNotFoundHandler((request, reply) =>
    renderBehavioralAnalyticsError(new ElasticError(404, 'resource_not_found_exception', `no handler found for uri [${request.url.split('?')[0]}] and method [${request.method}]`), request, reply),
  )

  // Credentials are checked before the body is read.
  app.addHook('onRequest', async (request) => {
    if (request.is404) return
    const org = (request.query as { org?: unknown }).org
    const principal = await app.auth.require(requestToken(request), 'analytics:push', typeof org === 'string' && org !== '' ? org : undefined)
    await assertOriginAllowed(request, principal.orgId)
    principals.set(request, principal)
  })

  app.post<{ Params: Params }>('/analytics/:collection/event/:eventType', async (request, reply) => {
    const { collection, eventType } = request.params
    if (!(EVENT_TYPES as readonly string[]).includes(eventType)) {
      throw new ElasticError(400, 'action_request_validation_exception', `Validation Failed: 1: invalid event type: [${eventType}];`)
    }
    if (!COLLECTION.test(collection)) {
      throw new ElasticError(400, 'action_request_validation_exception', `Validation Failed: 1: invalid collection name: [${truncate(collection, 140)}], use 1 to 128 letters, digits, '.', '_' or '-';`)
    }
    let parsed: ParsedEvent
    try {
      parsed = parseEvent(eventType as BehavioralEventType, request.body)
    } catch (err) {
      if (!(err instanceof EventParseError)) throw err
      throw new ElasticError(400, 'x_content_parse_exception', err.reason, { type: 'illegal_argument_exception', reason: err.detail })
    }
    if (parsed.truncated.length > 0) request.log.info({ truncated: parsed.truncated }, 'behavioral analytics fields truncated')
    const [event] = await app.writer.write([newEvent(toEventInput(parsed, collection, principals.get(request)!, request), app.clock)])
    const debug = (request.query as { debug?: unknown }).debug === 'true'
    return reply.code(202).send(debug ? { accepted: true, event: debugView(event!) } : { accepted: true })
  })
}

/** The stored event, for `?debug=true` (Elasticsearch returned its own document there). */
function debugView(event: TrackedEvent): Record<string, unknown> {
  const view: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(event)) if (value !== null && key !== 'clientIp') view[key] = value
  return view
}

/** The 1-based position of the clicked document in the reported results, counted across pages. */
function position(parsed: ParsedEvent): number | null {
  const items = parsed.search?.results?.items
  const id = parsed.document?.id
  if (!items || id === undefined) return null
  const at = items.findIndex((item) => (item.document as { id?: unknown } | undefined)?.id === id)
  if (at === -1) return null
  const page = parsed.search?.page
  const offset = page && page.current >= 1 ? (page.current - 1) * page.size : 0
  const value = offset + at + 1
  return value <= INT4_MAX ? value : null
}

function toEventInput(parsed: ParsedEvent, collection: string, principal: Principal, request: FastifyRequest): EventInput {
  const extra: Record<string, unknown> = { sessionId: parsed.sessionId, ...parsed.unknown }
  const search = parsed.search
  if (search) {
    if (search.filters !== undefined) extra.filters = { ...search.filters }
    if (search.page !== undefined) extra.pagination = search.page
    if (search.sort !== undefined) extra.sort = search.sort
    if (search.results?.items !== undefined) extra.resultItems = search.results.items
    if (search.unknown) extra.search = search.unknown
  }
  const userAgent = request.headers['user-agent']
  const input: EventInput = {
    orgId: principal.orgId,
    protocol: PROTOCOL,
    type: 'view',
    visitorId: parsed.userId,
    username: principal.userId ?? null,
    userDisplayName: principal.userDisplayName ?? null,
    anonymous: principal.userId === undefined,
    originLevel1: search?.searchApplication ?? principal.searchHub ?? null,
    queryPipeline: principal.pipeline ?? null,
    trackingId: collection,
    eventType: parsed.type,
    ...clientFields(userAgent ? truncate(userAgent, 1024) : null, request.ip),
    extra,
  }
  if (parsed.type === 'search') {
    input.type = 'search'
    input.queryText = search!.query
    input.numberOfResults = search!.results?.total_results ?? null
  } else if (parsed.type === 'search_click') {
    input.type = 'click'
    input.queryText = search!.query
    // A click is not a search: its result count stays out of the column searches are counted by.
    if (search!.results?.total_results !== undefined) extra.totalResults = search!.results.total_results
    input.documentId = parsed.document?.id ?? null
    input.sourceName = parsed.document?.index ?? null
    input.documentUrl = parsed.page?.url ?? null
    input.documentTitle = parsed.page?.title ?? null
    input.documentPosition = position(parsed)
  } else {
    input.documentUrl = parsed.page!.url
    input.documentTitle = parsed.page!.title ?? null
    input.originLevel3 = parsed.page!.referrer ? truncate(parsed.page!.referrer, 128) : null
    if (parsed.page!.referrer && parsed.page!.referrer.length > 128) extra.referrer = parsed.page!.referrer
    input.documentId = parsed.document?.id ?? null
    input.sourceName = parsed.document?.index ?? null
  }
  return input
}

/**
 * Elastic Behavioral Analytics events (`POST /_application/analytics/{collection}/event/{type}`),
 * as the browser tracker and Search UI's analytics plugin send them; optionally under one
 * reverse-proxy segment. Everything under `/_application` answers in Elasticsearch's error shape.
 */
export const behavioralAnalyticsProtocol: FastifyPluginAsync = async (app) => {
  for (const prefix of ['/_application', '/:prefix/_application']) await app.register(routes, { prefix })
}
