import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyServerOptions, RawServerDefault } from 'fastify'
import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import fastifyCors from '@fastify/cors'
import type { Config } from './config.js'
import type { Clock } from './events/event.js'
import { storePlugin } from './store/plugin.js'
import { authPlugin } from './auth/plugin.js'
import { opsRoutes } from './ops/routes.js'
import { classifyError } from './errors.js'
import { registerProtocols, renderUnroutedError } from './protocols/index.js'
import { limitsPlugin } from './http/limits.js'
import { reportsPlugin } from './reports/plugin.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface AppOptions {
  config: Config
  databaseUrl: string
  clock?: Clock
}

// A client's X-Request-Id is honoured when it looks like an id, so it cannot flood the logs.
const REQUEST_ID = /^[\w.:@-]{1,128}$/

/** Server-level options (they cannot be set from a plugin); main.ts and the tests share them. */
export function serverOptions(config: Config): FastifyServerOptions<RawServerDefault> {
  return {
    logger: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers["x-inbenta-key"]', 'req.query.access_token'],
    },
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    ajv: { customOptions: { removeAdditional: false } },
    frameworkErrors: renderUnroutedError,
  }
}

/**
 * The whole service as one Fastify plugin: shared resources first (store, auth), then the
 * operational routes and one plugin per protocol. Tests register exactly this.
 */
export const app = fp<AppOptions>(
  async (fastify: FastifyInstance, options) => {
    fastify.decorate('config', options.config)
    await fastify.register(fastifyCookie)
    // Browsers send events with credentials (cookies), so the origin is echoed, never `*`; each
    // org's allowed origins are enforced per request once the token is known (auth/origins.ts).
    await fastify.register(fastifyCors, {
      origin: true,
      credentials: true,
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowedHeaders: [
        'authorization', 'content-type', 'x-elastic-client-meta', 'x-request-id',
        'x-inbenta-key', 'x-inbenta-session', 'x-inbenta-env', 'x-inbenta-source', 'x-inbenta-user-type',
      ],
      exposedHeaders: ['x-request-id'],
      maxAge: 86400,
      strictPreflight: false,
    })
    await fastify.register(limitsPlugin, { jsonMaxDepth: options.config.JSON_MAX_DEPTH, ratePerMinute: options.config.RATE_LIMIT_PER_MINUTE })
    await fastify.register(storePlugin, options)
    await fastify.register(authPlugin)

    // A callback hook, not an async one: it runs on every response, and an async hook costs a
    // promise and a microtask each time.
    fastify.addHook('onSend', (request, reply, payload, done) => {
      reply.header('x-request-id', request.id)
      done(null, payload)
    })

    // Outside any protocol's prefix: a JSON body for every error, details of 5xx hidden.
    fastify.setErrorHandler((err, request, reply) => {
      const e = classifyError(err)
      if (e.internal) request.log.error({ err }, 'request failed')
      return reply.code(e.statusCode).headers(e.headers).send({ message: e.message, type: e.code })
    })
    fastify.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ message: `No route for ${request.method} ${request.url.split('?')[0]}`, type: 'NotFound' }),
    )

    await fastify.register(opsRoutes)
    await registerProtocols(fastify)
    await fastify.register(reportsPlugin, options)
  },
  { name: 'searchtrack' },
)
