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
import { homeRoute } from './ops/home.js'
import { webPlugin } from './web/plugin.js'
import { registerProtocols, renderUnroutedError } from './protocols/index.js'
import { HttpError } from './errors.js'
import { limitsPlugin } from './http/limits.js'
import { RequestLogController, requestLogSerializer } from './http/logging.js'
import { reportsPlugin } from './reports/plugin.js'
import { adminRoutes } from './admin/routes.js'
import { privacyPlugin } from './privacy/plugin.js'
import { privacyRoutes } from './privacy/routes.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface AppOptions {
  config: Config
  databaseUrl: string
  /** Replaces the database's clock (tests that move time by hand). */
  clock?: Clock
  /** The machine clock the database's clock corrects (tests give a wrong one). */
  machineTime?: () => number
}

/** A serialized origin (scheme://host[:port]), as browsers send it. */
function isOrigin(value: string): boolean {
  try {
    return new URL(value).origin === value
  } catch {
    return false
  }
}

// A client's X-Request-Id is honoured when it looks like an id, so it cannot flood the logs.
const REQUEST_ID = /^[\w.:@-]{1,128}$/

/** Server-level options (they cannot be set from a plugin); main.ts and the tests share them. */
export function serverOptions(config: Config): FastifyServerOptions<RawServerDefault> {
  return {
    logger: {
      level: config.LOG_LEVEL,
      // Never a credential, and addresses as they are stored (masked): see http/logging.ts.
      serializers: { req: requestLogSerializer },
    },
    // One line per request, at a level that fits its outcome (http/logging.ts).
    logController: new RequestLogController(),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // A request must arrive whole in this time: bodies and headers trickled byte by byte to hold
    // connections and memory are cut (Node answers 408). Node checks every second. (Fastify
    // passes `http` to http.createServer; its types omit it.)
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    ...({ http: { headersTimeout: Math.min(10_000, config.REQUEST_TIMEOUT_MS), connectionsCheckingInterval: 1000 } } as object),
    // Path segments that are names (App Search engines, Behavioral Analytics collections, org ids)
    // may be 128 characters long; find-my-way's default stops at 100.
    routerOptions: { maxParamLength: 128 },
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
    // Set first, so that routes added by plugins (the CORS preflight route) use it too: an error
    // outside a protocol's own handler is answered in the shape of the protocol whose path it is.
    fastify.setErrorHandler(renderUnroutedError)
    await fastify.register(fastifyCookie)
    // Browsers send events with credentials (cookies), so the origin is echoed, never `*`; each
    // org's allowed origins are enforced per request once the token is known (auth/origins.ts).
    // `null` (sandboxed frames, file: pages, some redirects) is never echoed: a credentialed
    // answer to it would be readable by any page that sandboxes itself.
    await fastify.register(fastifyCors, {
      origin: (origin, callback) => callback(null, origin !== undefined && origin !== 'null' && isOrigin(origin)),
      credentials: true,
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowedHeaders: [
        'authorization', 'content-type', 'x-elastic-client-meta', 'x-request-id', 'idempotency-key',
        // Elastic's App Search JavaScript client (Search UI's App Search connector).
        'x-swiftype-client', 'x-swiftype-client-version',
        'x-inbenta-key', 'x-inbenta-session', 'x-inbenta-env', 'x-inbenta-source', 'x-inbenta-user-type',
      ],
      exposedHeaders: ['x-request-id'],
      maxAge: 86400,
      strictPreflight: false,
    })
    await fastify.register(limitsPlugin, {
      jsonMaxDepth: options.config.JSON_MAX_DEPTH,
      ratePerMinute: options.config.RATE_LIMIT_PER_MINUTE,
      authFailuresPerMinute: options.config.AUTH_FAILURES_PER_MINUTE,
    })
    await fastify.register(storePlugin, options)
    await fastify.register(authPlugin)

    // A callback hook, not an async one: it runs on every response, and an async hook costs a
    // promise and a microtask each time.
    fastify.addHook('onSend', (request, reply, payload, done) => {
      reply.header('x-request-id', request.id)
      done(null, payload)
    })

    fastify.setNotFoundHandler((request, reply) =>
      renderUnroutedError(new HttpError(404, 'NotFound', `No route for ${request.method} ${request.url.split('?')[0]}`), request, reply),
    )

    await fastify.register(opsRoutes)
    await fastify.register(webPlugin)
    await fastify.register(homeRoute)
    await registerProtocols(fastify)
    await fastify.register(reportsPlugin, options)
    await fastify.register(adminRoutes, { prefix: '/api/v1/admin' })
    await fastify.register(privacyPlugin)
    await fastify.register(privacyRoutes, { prefix: '/api/v1/admin' })
  },
  { name: 'searchtrack' },
)
