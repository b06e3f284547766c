import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fastifyFormbody from '@fastify/formbody'
import { AuthError } from '../../auth/errors.js'
import { classifyError } from '../../errors.js'
import { authRoutes } from './auth-routes.js'
import { trackingRoutes } from './tracking-routes.js'
import { reportRoutes } from './report-routes.js'

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
  // at all; Fastify's parser refuses that, so an empty body is read as an empty object here.
  const jsonParser = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') return done(null, {})
    return jsonParser(request, text, done)
  })
  await app.register(fastifyFormbody)

  app.setErrorHandler((err, request, reply) => {
    const e = classifyError(err)
    // An unknown key or a bad secret is a refusal (403) in Inbenta's contract, not a missing credential.
    const status = err instanceof AuthError && err.code === 'InvalidToken' ? 403 : e.statusCode
    if (e.internal) request.log.error({ err }, 'inbenta request failed')
    app.metrics.eventsRejected.inc({ protocol: 'inbenta', reason: String(status) })
    return reply.code(status).headers(e.headers).send({ error: { code: status, message: e.message } })
  })
  app.setNotFoundHandler((request, reply) => {
    app.metrics.eventsRejected.inc({ protocol: 'inbenta', reason: '404' })
    return reply.code(404).send({ error: { code: 404, message: `No route for ${request.method} ${request.url.split('?')[0]}` } })
  })

  await app.register(authRoutes)
  await app.register(trackingRoutes)
  await app.register(reportRoutes)
}
