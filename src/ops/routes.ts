import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

const Status = Type.Object({ status: Type.String() })
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  database: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  writer: Type.Union([Type.Literal('healthy'), Type.Literal('failing')]),
  queuedEvents: Type.Integer(),
  spool: Type.Object({
    state: Type.Union([Type.Literal('off'), Type.Literal('idle'), Type.Literal('spooling'), Type.Literal('replaying')]),
    bytes: Type.Integer(),
    maxBytes: Type.Integer(),
    segments: Type.Integer(),
    full: Type.Boolean(),
    failing: Type.Boolean(),
  }),
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
    const spool = app.writer.spoolStatus
    // Spooling (database down, or its backlog still replaying) still acknowledges events safely, so
    // the instance stays in rotation (200 "degraded"): taking every instance out during a database
    // outage would lose the events the spool exists to keep. A spool that is full, or cannot
    // write (disk full, read-only), acknowledges nothing: 503.
    const spoolActive = spool.state === 'spooling' || spool.state === 'replaying'
    const spoolHasRoom = spool.state !== 'off' && !spool.full && !spool.failing
    const status =
      writer === 'failing' ? 'unavailable'
      : database === 'up' && !spoolActive ? 'ready'
      : spoolHasRoom ? 'degraded'
      : 'unavailable'
    return reply.code(status === 'unavailable' ? 503 : 200).send({
      status,
      database,
      writer,
      queuedEvents: app.writer.queueDepth,
      spool,
    })
  })

  app.get('/metrics', { schema: { response: { 200: Type.String() } } }, async (_request, reply) => {
    const spool = app.writer.spoolStatus
    // Gauges are read when scraped, not set on every write.
    app.metrics.queueDepth.set(app.writer.queueDepth)
    app.metrics.spoolBytes.set(spool.bytes)
    app.metrics.spooling.set(spool.state === 'spooling' ? 1 : 0)
    reply.type(app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
}
