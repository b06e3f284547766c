import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors.js'
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

/** Under App Search's or Behavioral Analytics' paths, whether or not a route was reached. */
export function isElasticPath(url: string): boolean {
  return APP_SEARCH_PATH.test(url) || BEHAVIORAL_ANALYTICS_PATH.test(url)
}

/**
 * A 404 for a path no protocol's prefix caught (a proxy segment the router cannot match, such as
 * an empty one) but that is under App Search's or Behavioral Analytics' paths: in their shape.
 * Undefined for any other path.
 */
export function renderProtocolNotFound(request: FastifyRequest, reply: FastifyReply) {
  const err = new HttpError(404, 'NotFound', `No route for ${request.method} ${request.url.split('?')[0]}`)
  if (APP_SEARCH_PATH.test(request.url)) return renderAppSearchError(err, request, reply)
  if (BEHAVIORAL_ANALYTICS_PATH.test(request.url)) return renderBehavioralAnalyticsError(err, request, reply)
  return undefined
}

/**
 * Errors raised before a request reaches any route (a malformed or oversized path) are answered
 * in the shape of the protocol whose paths it is under; Coveo's `{message, type}` is also the
 * service's own shape elsewhere.
 */
export function renderUnroutedError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (request.url.startsWith('/api/ws/')) return renderWorkplaceError(err, request, reply)
  // App Search and Behavioral Analytics paths may sit under one reverse-proxy segment.
  if (APP_SEARCH_PATH.test(request.url)) return renderAppSearchError(err, request, reply)
  if (BEHAVIORAL_ANALYTICS_PATH.test(request.url)) return renderBehavioralAnalyticsError(err, request, reply)
  if (request.url.startsWith('/v1/')) return renderInbentaError(err, request, reply)
  return renderCoveoError(err, request, reply)
}
