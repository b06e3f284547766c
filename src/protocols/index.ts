import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { classifyError } from '../errors.js'
import { coveoProtocol, renderCoveoError } from './coveo/index.js'
import { renderWorkplaceError, workplaceProtocol } from './workplace/index.js'
import { inbentaProtocol, renderInbentaError } from './inbenta/index.js'
import { coveoEventsProtocol } from './coveo-events/index.js'
import { appSearchProtocol, renderAppSearchError } from './app-search/index.js'
import { behavioralAnalyticsProtocol, renderBehavioralAnalyticsError } from './behavioral-analytics/index.js'

/**
 * One encapsulated plugin per protocol: each owns its routes, body parsers and error handler, so
 * each renders errors in its own shape. A new protocol is one new folder and one line here.
 */
export async function registerProtocols(app: FastifyInstance): Promise<void> {
  await app.register(coveoProtocol)
  await app.register(workplaceProtocol)
  await app.register(inbentaProtocol)
  await app.register(coveoEventsProtocol)
  await app.register(appSearchProtocol)
  await app.register(behavioralAnalyticsProtocol)
}

// One leading segment, possibly empty (`//api/as/…` reaches no route, and still gets the shape).
const APP_SEARCH_PATH = /^(\/[^/?]*)?\/api\/as(\/|\?|$)/
const BEHAVIORAL_ANALYTICS_PATH = /^(\/[^/?]*)?\/_application(\/|\?|$)/
const COVEO_PATH = /^\/(rest\/|v15\/|[^/?]*\/v15\/)/

/**
 * Errors raised outside a protocol's own error handler — before a request reaches any route (a
 * malformed or oversized path, a proxy segment the router cannot match), or on a route of the
 * root (CORS preflights) — are answered in the shape of the protocol whose paths it is under;
 * elsewhere in `{message, type}`, the service's own shape (Coveo's too).
 */
export function renderUnroutedError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (request.url.startsWith('/api/ws/')) return renderWorkplaceError(err, request, reply)
  // App Search and Behavioral Analytics paths may sit under one reverse-proxy segment.
  if (APP_SEARCH_PATH.test(request.url)) return renderAppSearchError(err, request, reply)
  if (BEHAVIORAL_ANALYTICS_PATH.test(request.url)) return renderBehavioralAnalyticsError(err, request, reply)
  if (request.url.startsWith('/v1/')) return renderInbentaError(err, request, reply)
  if (COVEO_PATH.test(request.url)) return renderCoveoError(err, request, reply)
  const e = classifyError(err)
  if (e.internal) request.log.error({ err }, 'request failed')
  return reply.code(e.statusCode).headers(e.headers).send({ message: e.message, type: e.code })
}
