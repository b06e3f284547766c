import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isPrivilege, type Privilege } from '../../auth/keys.js'
import { assertOriginAllowed } from '../../auth/origins.js'
import { AuthError } from '../../auth/errors.js'
import { deriveKey } from './codes.js'
import { InbentaError } from './errors.js'

export const ACCESS_TOKEN_TTL_SECONDS = 20 * 60

/*
 * Inbenta access tokens are HS256 JWTs that cannot be confused with Coveo search tokens, two ways:
 *  - they are signed with a key derived from the org's secret for this purpose only (HKDF, see
 *    codes.ts), never with the secret itself, so the generic Authenticator (which checks HS256
 *    tokens against the raw org secret) finds their signature invalid;
 *  - their claims differ: no `organization` claim (the Authenticator refuses a token without
 *    one), and `typ`/`aud` that this module requires, which a search token never carries.
 */
const TOKEN_TYPE = 'inbenta-access'
const AUDIENCE = 'searchtrack:inbenta'

export interface InbentaPrincipal {
  orgId: string
  keyId: string
  privileges: ReadonlySet<Privilege>
}

interface AccessClaims {
  typ: string
  aud: string
  org: string
  kid: string
  privileges: string[]
  exp: number
}

export interface IssuedToken {
  accessToken: string
  expiration: number
  expires_in: number
}

async function signingKey(app: FastifyInstance, orgId: string): Promise<string | null> {
  const org = await app.keys.getOrg(orgId)
  return org ? deriveKey(org.jwtSecret, 'access-token').toString('base64url') : null
}

export async function issueAccessToken(app: FastifyInstance, principal: InbentaPrincipal): Promise<IssuedToken> {
  const key = await signingKey(app, principal.orgId)
  if (!key) throw new InbentaError(403, 'Unknown organization')
  const claims = { typ: TOKEN_TYPE, aud: AUDIENCE, org: principal.orgId, kid: principal.keyId, privileges: [...principal.privileges] }
  // @fastify/jwt reads a number as seconds (fast-jwt underneath takes milliseconds).
  const accessToken = app.jwt.sign(claims, { key, algorithm: 'HS256', expiresIn: ACCESS_TOKEN_TTL_SECONDS })
  const { exp } = app.jwt.decode(accessToken) as { exp: number }
  return { accessToken, expiration: exp, expires_in: ACCESS_TOKEN_TTL_SECONDS }
}

/** Check an access token against the key that presents it; 403 on anything wrong. */
export async function verifyAccessToken(app: FastifyInstance, token: string, keyId: string): Promise<InbentaPrincipal> {
  const invalid = InbentaError.refused('The access token is not valid')
  let unverified: Partial<AccessClaims> | null
  try {
    unverified = app.jwt.decode(token) as Partial<AccessClaims> | null
  } catch {
    throw invalid
  }
  if (typeof unverified?.org !== 'string') throw invalid
  const key = await signingKey(app, unverified.org)
  if (!key) throw invalid
  let claims: AccessClaims
  try {
    claims = app.jwt.verify(token, { key, algorithms: ['HS256'] }) as AccessClaims
  } catch (err) {
    if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') {
      throw InbentaError.refused('The access token has expired: refresh it or authenticate again')
    }
    throw invalid
  }
  if (claims.typ !== TOKEN_TYPE || claims.aud !== AUDIENCE || !Array.isArray(claims.privileges)) throw invalid
  if (claims.kid !== keyId) throw InbentaError.refused('The access token was not issued to this x-inbenta-key')
  // A token never outlives its key: revoking the key ends it within the key cache's lifetime.
  if (!(await app.keys.isKeyActive(claims.kid))) throw InbentaError.refused('The key of this access token has been revoked')
  return { orgId: claims.org, keyId: claims.kid, privileges: new Set(claims.privileges.filter(isPrivilege)) }
}

export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first?.trim() || undefined
}

export function bearer(request: FastifyRequest): string | undefined {
  const value = header(request, 'authorization')
  const match = value && /^Bearer\s+(\S+)$/i.exec(value)
  return match ? match[1] : undefined
}

/**
 * The caller of a tracking call: `x-inbenta-key` plus `Authorization: Bearer <accessToken>`.
 * Report calls (`allowApiKey`) also take a searchtrack API key as the bearer, so dashboards and
 * scripts need not go through /auth.
 */
export async function authenticate(
  request: FastifyRequest,
  privilege: Privilege,
  { allowApiKey = false } = {},
): Promise<InbentaPrincipal> {
  const known = authenticated.get(request)
  if (known) return known
  const principal = await authenticateOnce(request, privilege, allowApiKey)
  authenticated.set(request, principal)
  return principal
}

const authenticated = new WeakMap<FastifyRequest, InbentaPrincipal>()

/**
 * An onRequest hook for a route needing `privilege`: every Inbenta credential travels in
 * headers, so it is checked before the body is read.
 */
export function authenticateEarly(privilege: Privilege, options: { allowApiKey?: boolean } = {}) {
  return async (request: FastifyRequest) => {
    await authenticate(request, privilege, options)
  }
}

async function authenticateOnce(request: FastifyRequest, privilege: Privilege, allowApiKey: boolean): Promise<InbentaPrincipal> {
  const app = request.server
  const token = bearer(request)
  if (!token) throw new InbentaError(401, 'Missing credentials: send Authorization: Bearer <accessToken>')
  let principal: InbentaPrincipal
  if (allowApiKey && token.startsWith('st_')) {
    try {
      const p = await app.auth.require(token, privilege)
      principal = { orgId: p.orgId, keyId: p.keyId ?? '', privileges: p.privileges }
    } catch (err) {
      if (err instanceof AuthError) throw InbentaError.refused(err.message)
      throw err
    }
  } else {
    const keyId = header(request, 'x-inbenta-key')
    if (!keyId) throw new InbentaError(401, 'Missing credentials: send the x-inbenta-key header')
    principal = await verifyAccessToken(app, token, keyId)
  }
  if (!principal.privileges.has(privilege)) throw new InbentaError(403, `This key lacks the ${privilege} privilege`)
  await assertOriginAllowed(request, principal.orgId)
  return principal
}
