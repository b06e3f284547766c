import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../../auth/errors.js'
import type { Principal } from '../../auth/principal.js'
import { classifyError } from '../../errors.js'
import { classifyUserAgent, maskIp, type UserAgentInfo } from '../../events/enrich.js'
import { newEvent, type EventInput, type TrackedEvent } from '../../events/event.js'
import { truncate } from '../../events/truncate.js'
import { addBeaconParsers, eventPayload } from './body.js'
import { CoveoError } from './errors.js'
import { parseEvent, VISITOR_MAX, type ParsedEvent } from './fields.js'
import { parseCollect } from './collect.js'
import {
  clearVisitorCookie, cookieDisclosable, resolveVisitor, setVisitorCookie, shownVisitorId, VISITOR_COOKIE, type ResolvedVisitor,
} from './visitor.js'
import { tokenRoute } from './token.js'
import { authorize, authorizeEarly, requestToken, stringParam, type QueryString } from './request.js'

/**
 * Where clients mount the v15 API (docs/protocols/coveo-ua-v15.md): coveo.analytics' default, an endpoint given as a bare
 * origin (Headless legacy), a custom endpoint or a one-segment proxy prefix, and the older form
 * without `/analytics` that Coveo's own examples use.
 */
export const ANALYTICS_BASES = ['/rest/ua/v15/analytics', '/rest/v15/analytics', '/v15/analytics', '/:proxy/v15/analytics', '/rest/ua/v15']

const LOGGING_TYPES = ['search', 'searches', 'click', 'custom', 'view', 'collect'] as const
type LoggingType = (typeof LOGGING_TYPES)[number]

function isLoggingType(type: string): type is LoggingType {
  return (LOGGING_TYPES as readonly string[]).includes(type)
}

/**
 * Who the event is about (docs/protocols/coveo-ua-v15.md, identity): a body `username` only with the impersonate privilege, else
 * the search token's user, else `anonymous` for an API key; `anonymous: true` stores no identity.
 */
function identity(principal: Principal, parsed: ParsedEvent): Pick<EventInput, 'username' | 'userDisplayName' | 'anonymous'> {
  if (parsed.fields.anonymous === true) return { anonymous: true, username: null, userDisplayName: null }
  const username =
    parsed.username !== undefined && principal.privileges.has('impersonate')
      ? truncate(parsed.username, 128)
      : principal.kind === 'search-token'
        ? (principal.userId ?? null)
        : 'anonymous'
  const userDisplayName = parsed.fields.userDisplayName ?? principal.userDisplayName ?? null
  return { anonymous: false, username, userDisplayName: userDisplayName && truncate(userDisplayName, 128) }
}

interface Context {
  request: FastifyRequest
  principal: Principal
  /** Resolved lazily: only events without a body clientId need the request-level visitor. */
  visitor: () => ResolvedVisitor
  /** What every event of the request shares, worked out once per request. */
  client: () => RequestClient
}

interface RequestClient {
  userAgent: string | null
  ua: UserAgentInfo
  clientIp: string | null
  searchHub: string | null
  pipeline: string | null
}

function requestClient(request: FastifyRequest, principal: Principal): RequestClient {
  const header = request.headers['user-agent']
  const userAgent = header ? truncate(header, 1024) : null
  return {
    userAgent,
    ua: classifyUserAgent(userAgent),
    clientIp: maskIp(request.ip),
    searchHub: (principal.searchHub && truncate(principal.searchHub, 128)) ?? null,
    pipeline: (principal.pipeline && truncate(principal.pipeline, 128)) ?? null,
  }
}

/*
 * The fixed fields are written first as one literal and the event's own fields copied after,
 * except those the literal already decided. Spreading the parsed fields first (`{ ...fields,
 * orgId, … }`) gave V8 an object in dictionary mode; on a 50-event batch building these objects
 * was the largest cost of the request after GC (BENCHMARKS.md).
 */
function toEvent(ctx: Context, type: 'search' | 'click' | 'custom' | 'view' | 'collect', parsed: ParsedEvent): TrackedEvent {
  const { principal } = ctx
  const fields = parsed.fields
  const client = ctx.client()
  const userAgent = fields.userAgent ?? client.userAgent
  const ua = userAgent === client.userAgent ? client.ua : classifyUserAgent(userAgent)
  const who = identity(principal, parsed)
  const input: EventInput = {
    orgId: principal.orgId,
    protocol: 'coveo',
    type,
    visitorId: parsed.clientId ?? ctx.visitor().id,
    username: who.username,
    userDisplayName: who.userDisplayName,
    anonymous: who.anonymous,
    originLevel1: fields.originLevel1 ?? client.searchHub,
    queryPipeline: fields.queryPipeline ?? client.pipeline,
    userAgent,
    browser: ua.browser,
    os: ua.os,
    deviceCategory: ua.deviceCategory,
    isBot: ua.isBot,
    clientIp: client.clientIp,
  }
  const target = input as unknown as Record<string, unknown>
  for (const key of Object.keys(fields)) {
    if (!(key in target)) target[key] = fields[key as keyof typeof fields]
  }
  return newEvent(input, ctx.request.server.clock)
}

/** Visit fields of a response: the visitor id the client sent, or one it may read (visitor.ts). */
function visitInfo(event: TrackedEvent, parsed: ParsedEvent, requestVisitor: string | null) {
  const visitorId = parsed.clientId ?? requestVisitor
  return { visitId: event.visitId, visitorId, clientId: visitorId }
}

async function logEvents(request: FastifyRequest, reply: FastifyReply, type: LoggingType): Promise<unknown> {
  const app = request.server
  const payload = eventPayload(request.body, type)
  const principal = await authorize(request)
  let visitor: ResolvedVisitor | undefined
  let client: RequestClient | undefined
  const ctx: Context = {
    request,
    principal,
    visitor: () => (visitor ??= resolveVisitor(request)),
    client: () => (client ??= requestClient(request, principal)),
  }

  let parsed: ParsedEvent[]
  let events: TrackedEvent[]
  if (type === 'searches') {
    if (!Array.isArray(payload)) throw new CoveoError(400, 'InvalidObject', 'The searches body must be a JSON array of search events')
    if (payload.length === 0) throw new CoveoError(400, 'MissingParameter', 'The searches body holds no search event')
    parsed = payload.map((item, i) => withIndex(i, () => parseEvent('search', item)))
    events = parsed.map((p) => toEvent(ctx, 'search', p))
  } else if (type === 'collect') {
    parsed = [parseCollect(payload)]
    events = [toEvent(ctx, 'collect', parsed[0]!)]
  } else {
    parsed = [parseEvent(type, payload)]
    events = [toEvent(ctx, type, parsed[0]!)]
  }

  const truncated = parsed.flatMap((p, i) => (p.truncated.length ? [{ event: i, fields: p.truncated }] : []))
  if (truncated.length) request.log.info({ type, truncated }, 'coveo event fields truncated to their column length')

  const written = await app.writer.write(events)
  if (visitor?.generated) setVisitorCookie(request, reply, visitor.id)

  if (stringParam((request.query as QueryString).discardVisitInfo)?.toLowerCase() === 'true') {
    return reply.code(200).send()
  }
  if (type === 'collect') return {}
  const shown = visitor ? shownVisitorId(visitor, !visitor.fromCookie || (await cookieDisclosable(request, principal.orgId))) : null
  if (type === 'searches') {
    return { searchEventResponses: written.map((e, i) => ({ searchEventUid: e.eventId, ...visitInfo(e, parsed[i]!, shown) })) }
  }
  const event = written[0]!
  const info = visitInfo(event, parsed[0]!, shown)
  return type === 'search' ? { searchEventUid: event.eventId, ...info } : info
}

/** Name the failing item of a batch in the error, keeping its type. */
function withIndex<T>(index: number, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof CoveoError) throw new CoveoError(err.statusCode, err.code as never, `Search event ${index}: ${err.message}`)
    throw err
  }
}

/** The visit of a visitor as the writer sees it: current while its last event is recent enough. */
async function currentVisit(app: FastifyInstance, orgId: string, visitorId: string): Promise<string | null> {
  const { rows } = await app.db.query<{ visit_id: string }>(
    `SELECT visit_id::text FROM visitors
     WHERE org_id = $1 AND visitor_id = $2 AND last_seen >= $3::timestamptz - $4::interval`,
    [orgId, visitorId, app.clock(), `${app.config.VISIT_TIMEOUT_MINUTES * 60} seconds`],
  )
  return rows[0]?.visit_id ?? null
}

const analyticsRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Params: { type: string } }>('/:type', { onRequest: authorizeEarly }, async (request, reply) => {
    const { type } = request.params
    if (!isLoggingType(type)) throw new CoveoError(404, 'NotFound', `Unknown event type "${type}"`)
    return logEvents(request, reply, type)
  })

  // GET logging was retired by Coveo in 2021; say so instead of a bare 404.
  app.get<{ Params: { type: string } }>('/:type', async (request) => {
    const { type } = request.params
    if (!isLoggingType(type)) throw new CoveoError(404, 'NotFound', `No route for GET ${request.url.split('?')[0]}`)
    throw new CoveoError(405, 'MethodNotAllowed', `Logging ${type} events with GET is no longer supported: use POST`, { allow: 'POST' })
  })

  // coveo.analytics calls visit, health and status without credentials; a token, when given,
  // names the org whose visit is asked for.
  app.get('/visit', { onRequest: authorizeEarly }, async (request, reply) => {
    const clientId = stringParam((request.query as QueryString).clientId)
    const visitor: ResolvedVisitor = clientId ? { id: truncate(clientId, VISITOR_MAX), generated: false } : resolveVisitor(request)
    if (visitor.generated) setVisitorCookie(request, reply, visitor.id)
    let id: string | null = null
    let orgId: string | null = null
    if (requestToken(request)) {
      orgId = (await authorize(request)).orgId
      id = await currentVisit(app, orgId, visitor.id)
    }
    const shown = shownVisitorId(visitor, !visitor.fromCookie || (await cookieDisclosable(request, orgId)))
    return { id: shown === null ? null : id, visitorId: shown, clientId: shown }
  })

  // Forget the visitor cookie; with a token, also end the visitor's visit so the next event
  // starts a new one (by ageing its last activity past the timeout).
  app.delete('/visit', { onRequest: authorizeEarly }, async (request, reply) => {
    const visitorId = stringParam(request.cookies?.[VISITOR_COOKIE]) ?? stringParam((request.query as { visitor?: string }).visitor)
    if (visitorId && requestToken(request)) {
      const principal = await authorize(request)
      await app.db.query(
        `UPDATE visitors SET last_seen = least(last_seen, $3::timestamptz - $4::interval - interval '1 second')
         WHERE org_id = $1 AND visitor_id = $2`,
        [principal.orgId, truncate(visitorId, VISITOR_MAX), app.clock(), `${app.config.VISIT_TIMEOUT_MINUTES * 60} seconds`],
      )
    }
    clearVisitorCookie(request, reply)
    return {}
  })

  app.get('/monitoring/health', async () => ({ status: app.writer.healthy ? 'UP' : 'degraded' }))
  app.get('/status', async () => ({ status: app.writer.healthy ? 'online' : 'degraded' }))
}

/** Coveo's error shape `{message, type}` for any error. */
export function renderCoveoError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  // The JavaScript Search Framework renews its search token only on 400 InvalidToken.
  const statusCode = err instanceof AuthError && err.code === 'InvalidToken' ? 400 : e.statusCode
  if (e.internal) request.log.error({ err }, 'coveo request failed')
  else if (e.statusCode >= 500) request.log.warn({ err, type: e.code }, 'coveo request refused for now')
  else request.log.info({ type: e.code, message: e.message }, 'coveo request refused')
  request.server.metrics.eventsRejected.inc({ protocol: 'coveo', reason: e.code })
  return reply.code(statusCode).headers(e.headers).send({ message: e.message, type: e.code })
}

/** The coveo protocol adapter: UA Write API v15 routes, beacon bodies and its error shape. */
export const coveoProtocol: FastifyPluginAsync = async (app) => {
  addBeaconParsers(app)
  app.setErrorHandler((err, request, reply) => renderCoveoError(err, request, reply))
  for (const prefix of ANALYTICS_BASES) {
    await app.register(
      async (scope) => {
        await scope.register(analyticsRoutes)
        scope.setNotFoundHandler((request, reply) =>
          renderCoveoError(new CoveoError(404, 'NotFound', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply),
        )
      },
      { prefix },
    )
  }
  await app.register(tokenRoute)
}
