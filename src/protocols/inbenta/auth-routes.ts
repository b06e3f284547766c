import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthError } from '../../auth/errors.js'
import { assertOriginAllowed } from '../../auth/origins.js'
import { bearer, header, issueAccessToken, verifyAccessToken } from './access.js'
import { InbentaError } from './errors.js'
import { AuthBody, AuthResponse, ErrorBody, TokenResponse } from './schemas.js'

const KEY_ID = /^[0-9a-f]{16}$/

// Per client address and key: enough for every page load of a busy help site behind one NAT,
// too few to guess a 256-bit secret (or even to make trying worthwhile).
const CREDENTIAL_RATE_LIMIT = {
  max: 60,
  timeWindow: 60_000,
  keyGenerator: (request: { ip: string; headers: Record<string, unknown> }) => `${request.ip}|${String(request.headers['x-inbenta-key'] ?? '')}`,
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody }

/** `/v1/auth` and `/v1/refreshToken`: a searchtrack API key, sent in halves, for an access token. */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/auth',
    // The secret comes in the body: a small one (the schema allows 256 characters).
    { bodyLimit: 4096, schema: { body: AuthBody, response: { 200: AuthResponse, ...errors } }, config: { rateLimit: CREDENTIAL_RATE_LIMIT } },
    async (request) => {
      const keyId = header(request, 'x-inbenta-key')
      if (!keyId) throw new InbentaError(401, 'Missing credentials: send the x-inbenta-key header')
      if (!KEY_ID.test(keyId)) throw InbentaError.refused('The key or secret is not valid')
      let principal
      try {
        principal = await app.auth.fromKeySecret(keyId, request.body.secret)
      } catch (err) {
        if (err instanceof AuthError) throw InbentaError.refused('The key or secret is not valid')
        throw err
      }
      if (!principal.privileges.has('analytics:push') && !principal.privileges.has('analytics:read')) {
        throw new InbentaError(403, 'This key has neither analytics:push nor analytics:read')
      }
      await assertOriginAllowed(request, principal.orgId)
      const issued = await issueAccessToken(app, { orgId: principal.orgId, keyId, privileges: principal.privileges })
      const base = `${request.protocol}://${request.host}`
      return { ...issued, apis: { search: base, tracking: base } }
    },
  )

  app.post(
    '/refreshToken',
    { bodyLimit: 4096, schema: { response: { 200: TokenResponse, ...errors } }, config: { rateLimit: CREDENTIAL_RATE_LIMIT } },
    async (request) => {
      const keyId = header(request, 'x-inbenta-key')
      const token = bearer(request)
      if (!keyId || !token) throw new InbentaError(401, 'Missing credentials: send x-inbenta-key and Authorization: Bearer <accessToken>')
      // verifyAccessToken refuses a token whose key was revoked: a refresh cannot outlive the key.
      return issueAccessToken(app, await verifyAccessToken(app, token, keyId))
    },
  )
}
