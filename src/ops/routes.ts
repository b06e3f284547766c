import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

const Status = Type.Object({ status: Type.String() })
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  database: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  writer: Type.Union([Type.Literal('healthy'), Type.Literal('failing')]),
  queuedEvents: Type.Integer(),
})

/** Liveness, readiness and Prometheus metrics: for load balancers and monitoring, no auth. */
export const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', { schema: { response: { 200: Status } } }, async () => ({ status: 'up' }))

  app.get('/ready', { schema: { response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const database = await app.db
      .query('SELECT 1')
      .then(() => 'up' as const)
      .catch(() => 'down' as const)
    const writer = app.writer.healthy ? ('healthy' as const) : ('failing' as const)
    const ready = database === 'up' && writer === 'healthy'
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'unavailable',
      database,
      writer,
      queuedEvents: app.writer.queueDepth,
    })
  })

  app.get('/metrics', { schema: { response: { 200: Type.String() } } }, async (_request, reply) => {
    reply.type(app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
}
