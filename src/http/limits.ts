import { hash } from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import { HttpError } from '../errors.js'

export class JsonTooDeepError extends HttpError {
  constructor(maxDepth: number) {
    super(400, 'JsonTooDeep', `The request body nests objects or arrays deeper than ${maxDepth} levels`)
  }
}

export class InvalidEncodingError extends HttpError {
  constructor() {
    super(400, 'InvalidEncoding', 'The request body is not valid UTF-8')
  }
}

/**
 * Deepest nesting of objects and arrays in a JSON text, counted without parsing it, so a hostile
 * body ({"a":[[[[…) is refused before a recursive parse or a deep walk of the result.
 * Stops counting as soon as `limit` is exceeded.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

// Fastify's own JSON parser (secure-json-parse: __proto__ and constructor.prototype refused).
type JsonParser = (request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => void

/**
 * Parse a JSON body given as bytes: refuse invalid UTF-8 (rather than silently turning it into
 * U+FFFD) and excessive nesting, then parse with Fastify's safe parser. Protocols that accept JSON
 * under another content type (text/plain beacons, form fields) should use it too.
 */
export function jsonBodyParser(app: FastifyInstance, maxDepth: number) {
  const parse = app.getDefaultJsonParser('error', 'error') as unknown as JsonParser
  return (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    if (!isUtf8(body)) return done(new InvalidEncodingError())
    const text = body.toString('utf8')
    if (jsonDepthExceeds(text, maxDepth)) return done(new JsonTooDeepError(maxDepth))
    parse(request, text, done)
  }
}

const OPS_ROUTES = new Set(['/health', '/ready', '/metrics'])

/** The credential a request carries, wherever a protocol puts it. */
function credentialOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization
  if (typeof auth === 'string' && auth.length > 0) return auth.replace(/^Bearer\s+/i, '')
  const query = request.query as Record<string, unknown> | undefined
  if (typeof query?.access_token === 'string') return query.access_token
  const inbenta = request.headers['x-inbenta-key']
  if (typeof inbenta === 'string') return inbenta
  return undefined
}

/**
 * Root-level request limits, applied to every protocol (each renders the errors in its shape):
 * the JSON body parser above and a per-credential rate limit (per client IP without one).
 * The body size limit (413) is the server's bodyLimit.
 */
export const limitsPlugin = fp<{ jsonMaxDepth: number; ratePerMinute: number }>(
  async (app, { jsonMaxDepth, ratePerMinute }) => {
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser(app, jsonMaxDepth))

    // Registered even when the global limit is off (0), so routes can still set their own
    // (`config.rateLimit`, e.g. Inbenta's credential exchange).
    await app.register(fastifyRateLimit, {
      global: ratePerMinute > 0,
      max: ratePerMinute,
      timeWindow: 60_000,
      allowList: (request) => OPS_ROUTES.has(request.url.split('?')[0]!),
      // A hash: the limiter's memory should not hold secrets. A wrong secret for a valid key
      // id counts against itself, not against the real key.
      keyGenerator: (request) => {
        const credential = credentialOf(request)
        return credential ? `k:${hash('sha256', credential, 'base64url')}` : `ip:${request.ip}`
      },
      errorResponseBuilder: (_request, context) =>
        new HttpError(429, 'TooManyRequests', `Too many requests (${context.max} per minute); retry in ${context.after}`, {
          'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
        }),
    })
  },
  { name: 'limits' },
)
