import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError } from '../../auth/errors.js'
import { assertOriginAllowed } from '../../auth/origins.js'
import type { Principal } from '../../auth/principal.js'
import { classifyError, HttpError } from '../../errors.js'
import { clientFields } from '../../events/enrich.js'
import { newEvent } from '../../events/event.js'
import { truncate } from '../../events/truncate.js'
import { idempotencyKey, IDEMPOTENCY_HEADER } from '../../http/idempotency.js'
import { validateClick, type Click } from './validate.js'

const PROTOCOL = 'app-search'

/** One or more faults, each already a message of App Search's `{"errors": [...]}` list. */
class ClickError extends HttpError {
  constructor(readonly errors: string[]) {
    super(400, 'InvalidClick', errors.join('; '))
  }
}

/** App Search's error shape `{"errors": ["…"]}` for any error. */
export function renderAppSearchError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  const errors = err instanceof ClickError ? err.errors : [e.message]
  if (e.internal) request.log.error({ err }, 'app search click failed')
  else request.log.info({ type: e.code, message: e.message }, 'app search click refused')
  request.server.metrics.eventsRejected.inc({ protocol: PROTOCOL, reason: e.code })
  const headers = e.statusCode === 401 ? { ...e.headers, 'www-authenticate': 'Bearer realm="searchtrack"' } : e.headers
  return reply.code(e.statusCode).headers(headers).send({ errors })
}

/**
 * The credential of an App Search click: `Authorization: Bearer <searchtrack key or search
 * token>`. App Search's public keys read `search-…`, and some front ends check that form before
 * they send anything, so `search-<searchtrack key>` is accepted as the key itself.
 */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) throw new AuthError('InvalidToken', 'The Authorization header must read "Bearer <key>"')
  const token = match[1]!
  return token.startsWith('search-') ? token.slice('search-'.length) : token
}

const principals = new WeakMap<FastifyRequest, Principal>()

const routes: FastifyPluginAsync = async (app) => {
  // The contract is JSON only: a text/plain body is refused as 415 rather than misread.
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler(renderAppSearchError)
  app.setNotFoundHandler((request, reply) =>
    renderAppSearchError(new HttpError(404, 'NotFound', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply),
  )

  // Credentials are checked before the body is read.
  app.addHook('onRequest', async (request) => {
    if (request.is404) return
    const org = (request.query as { org?: unknown }).org
    const principal = await app.auth.require(bearerToken(request), 'analytics:push', typeof org === 'string' && org !== '' ? org : undefined)
    await assertOriginAllowed(request, principal.orgId)
    principals.set(request, principal)
  })

  const handler = async (request: FastifyRequest<{ Params: { engine: string } }>, reply: FastifyReply) => {
    const result = validateClick(request.params.engine, request.body, request.query as Record<string, unknown>)
    if (!result.ok) throw new ClickError(result.errors)
    if (result.truncated.length > 0) request.log.info({ truncated: result.truncated }, 'app search click fields truncated')
    const key = idempotencyKey(request.headers[IDEMPOTENCY_HEADER])
    const event = newEvent({ ...toEventInput(result.click, principals.get(request)!, request), idempotencyKey: key === undefined ? null : `app-search:${key}` }, app.clock)
    await app.writer.write([event])
    // An empty body, as App Search answered: the browser client caches any response that parses
    // as JSON and would then never send an identical second click.
    return reply.code(200).type('application/json').send('')
  }

  // `click.json` is what the JavaScript client sends, `click/` the Ruby client.
  for (const url of ['/v1/engines/:engine/click', '/v1/engines/:engine/click.json', '/v1/engines/:engine/click/']) app.post(url, handler)
}

function toEventInput(click: Click, principal: Principal, request: FastifyRequest): Parameters<typeof newEvent>[0] {
  const extra: Record<string, unknown> = { ...click.unknown }
  if (click.tags !== undefined) extra.tags = click.tags
  const clientMeta = request.headers['x-elastic-client-meta']
  if (typeof clientMeta === 'string') extra.clientMeta = truncate(clientMeta, 256)
  const swiftype = request.headers['x-swiftype-client']
  if (typeof swiftype === 'string') {
    const version = request.headers['x-swiftype-client-version']
    extra.swiftypeClient = truncate(typeof version === 'string' ? `${swiftype} ${version}` : swiftype, 256)
  }
  const userAgent = request.headers['user-agent']
  return {
    orgId: principal.orgId,
    protocol: PROTOCOL,
    type: 'click',
    // A click names no visitor: as for Workplace, the search token's user is the closest thing.
    visitorId: principal.userId ?? null,
    username: principal.userId ?? null,
    userDisplayName: principal.userDisplayName ?? null,
    anonymous: principal.userId === undefined,
    originLevel1: principal.searchHub ?? null,
    queryPipeline: principal.pipeline ?? null,
    searchQueryUid: click.requestId,
    queryText: click.query,
    documentId: click.documentId,
    sourceName: click.engine,
    ...clientFields(userAgent ? truncate(userAgent, 1024) : null, request.ip),
    extra: Object.keys(extra).length > 0 ? extra : null,
  }
}

/**
 * App Search's Click API (`POST /api/as/v1/engines/{engine}/click`), as Search UI's App Search
 * connector and Elastic's clients send it; optionally under one reverse-proxy segment.
 */
export const appSearchProtocol: FastifyPluginAsync = async (app) => {
  for (const prefix of ['/api/as', '/:prefix/api/as']) await app.register(routes, { prefix })
}
