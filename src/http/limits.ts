import { hash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import { Transform, type Readable } from 'node:stream'
import { LRUCache } from 'lru-cache'
import { HttpError, isCredentialFailure } from '../errors.js'
import { parseJsonBytes } from './json.js'

/**
 * The root's application/json parser: bytes through the one JSON path (http/json.ts). An empty
 * body is no body for methods that carry none (coveo.analytics sends `DELETE …/visit` with a JSON
 * content type and nothing after it); a POST without a body is invalid JSON.
 */
export function jsonBodyParser(maxDepth: number) {
  return (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    if (body.length === 0 && request.method !== 'POST' && request.method !== 'PUT' && request.method !== 'PATCH') return done(null, undefined)
    try {
      done(null, parseJsonBytes(body, maxDepth))
    } catch (err) {
      done(err as Error)
    }
  }
}

const OPS_ROUTES = new Set(['/health', '/ready', '/metrics'])

/** The credential a request carries, wherever a protocol puts it. */
function credentialOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization
  // One key is one credential however it is sent (Bearer, Elastic's `Apikey`, App Search's `search-` prefix).
  if (typeof auth === 'string' && auth.length > 0) return auth.replace(/^(Bearer|Apikey)\s+(search-)?/i, '')
  const query = request.query as Record<string, unknown> | undefined
  if (typeof query?.access_token === 'string') return query.access_token
  const inbenta = request.headers['x-inbenta-key']
  if (typeof inbenta === 'string') return inbenta
  return undefined
}

/**
 * Largest body a request without credentials in its headers or query may send (the sendBeacon
 * forms that carry their token in the body: a browser caps a beacon at 64 KiB too). A request
 * with credentials there has them checked before its body is read, so only callers that proved
 * who they are can make the service hold a large body.
 */
export const ANONYMOUS_BODY_LIMIT_BYTES = 64 * 1024

class BodyTooLargeError extends HttpError {
  constructor(limit: number) {
    super(413, 'PayloadTooLarge', `The request body is too large: at most ${limit} bytes without credentials in the Authorization header or the access_token parameter`)
  }
}

/** A pass-through that fails once more than `limit` bytes went through it. */
function capped(payload: Readable, limit: number): Readable {
  let received = 0
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length
      if (received > limit) {
        payload.unpipe(out)
        callback(new BodyTooLargeError(limit))
      } else callback(null, chunk)
    },
  })
  payload.on('error', (err) => out.destroy(err))
  return payload.pipe(out)
}

export interface LimitsOptions {
  jsonMaxDepth: number
  ratePerMinute: number
  /** Refused credentials per client address per minute before it gets 429; 0 = off. */
  authFailuresPerMinute: number
}

/**
 * Root-level request limits, applied to every protocol (each renders the errors in its shape):
 * the JSON body parser above, a per-credential rate limit (per client IP without one), a limit
 * on refused credentials per client address, and a small body limit for requests that carry no
 * credentials before their body. The overall body size limit (413) is the server's bodyLimit.
 */
export const limitsPlugin = fp<LimitsOptions>(
  async (app, { jsonMaxDepth, ratePerMinute, authFailuresPerMinute }) => {
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser(jsonMaxDepth))

    // Guessing keys or replaying junk tokens costs a lookup each: past the budget, an address is
    // refused before any, for the rest of its minute. Bounded: the least recent addresses go first.
    const refusals = new LRUCache<string, number>({ max: 100_000, ttl: 60_000 })
    if (authFailuresPerMinute > 0) {
      app.addHook('onRequest', (request, _reply, done) => {
        if ((refusals.get(request.ip) ?? 0) < authFailuresPerMinute || OPS_ROUTES.has(request.url.split('?')[0]!)) return done()
        const seconds = String(Math.max(1, Math.ceil(refusals.getRemainingTTL(request.ip) / 1000)))
        done(new HttpError(429, 'TooManyRequests', `Too many refused credentials from this address; retry in ${seconds} s`, { 'retry-after': seconds }))
      })
      app.addHook('onError', (request, _reply, error, done) => {
        if (isCredentialFailure(error)) refusals.set(request.ip, (refusals.get(request.ip) ?? 0) + 1, { noUpdateTTL: true })
        done()
      })
    }

    app.addHook('preParsing', (request, _reply, payload, done) => {
      if (credentialOf(request) !== undefined) return done(null, payload)
      if (Number(request.headers['content-length']) > ANONYMOUS_BODY_LIMIT_BYTES) return done(new BodyTooLargeError(ANONYMOUS_BODY_LIMIT_BYTES))
      done(null, capped(payload, ANONYMOUS_BODY_LIMIT_BYTES))
    })

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
