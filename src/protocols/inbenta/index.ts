import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fastifyFormbody from '@fastify/formbody'
import { AuthError } from '../../auth/errors.js'
import { classifyError } from '../../errors.js'
import { jsonBodyParser } from '../../http/limits.js'
import { authRoutes } from './auth-routes.js'
import { trackingRoutes } from './tracking-routes.js'
import { reportRoutes } from './report-routes.js'

/** Inbenta's error shape `{"error": {"code", "message"}}` for any error. */
export function renderInbentaError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = classifyError(err)
  // An unknown key or a bad secret is a refusal (403) in Inbenta's contract, not a missing credential.
  const status = err instanceof AuthError && err.code === 'InvalidToken' ? 403 : e.statusCode
  if (e.internal) request.log.error({ err }, 'inbenta request failed')
  request.server.metrics.eventsRejected.inc({ protocol: 'inbenta', reason: String(status) })
  return reply.code(status).headers(e.headers).send({ error: { code: status, message: e.message } })
}

/**
 * The inbenta protocol adapter (spec/inbenta-tracking.md): auth, sessions, tracking events with
 * minted codes, data-key priorities and session results, all under `/v1` with Inbenta's error
 * shape `{"error": {"code", "message"}}`.
 */
export const inbentaProtocol: FastifyPluginAsync = async (app) => {
  await app.register(inbentaV1, { prefix: '/v1' })
}

async function inbentaV1(app: FastifyInstance): Promise<void> {
  // Inbenta's widgets POST /tracking/session with `Content-Type: application/json` and no body
  // at all; the root parser refuses that, so an empty body is read as an empty object here. Any
  // other body goes through the root's checks (UTF-8, nesting depth, prototype pollution).
  const jsonParser = jsonBodyParser(app.config.JSON_MAX_DEPTH)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    if (body.toString('utf8').trim() === '') return done(null, {})
    return jsonParser(request, body, done)
  })
  await app.register(fastifyFormbody)

  app.setErrorHandler(renderInbentaError)
  app.setNotFoundHandler((request, reply) => {
    app.metrics.eventsRejected.inc({ protocol: 'inbenta', reason: '404' })
    return reply.code(404).send({ error: { code: 404, message: `No route for ${request.method} ${request.url.split('?')[0]}` } })
  })

  await app.register(authRoutes)
  await app.register(trackingRoutes)
  await app.register(reportRoutes)
}
