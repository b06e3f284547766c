import type { FastifyRequest } from 'fastify'
import { assertOriginAllowed } from '../../auth/origins.js'
import type { Principal } from '../../auth/principal.js'
import { formAccessToken } from './body.js'
import { CoveoError } from './errors.js'

export interface QueryString {
  access_token?: string
  org?: string
  discardVisitInfo?: string
  clientId?: string
}

/** The token from, in order: `Authorization: Bearer`, query `access_token`, form `access_token`. */
export function requestToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw new CoveoError(400, 'InvalidHeadersException', 'The Authorization header must read "Bearer <token>"')
    return match[1]
  }
  const query = request.query as QueryString
  return stringParam(query.access_token) ?? formAccessToken(request.body)
}

export function stringParam(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** True when the request carries a token before its body: the Authorization header or `access_token`. */
export function hasTokenBeforeBody(request: FastifyRequest): boolean {
  return request.headers.authorization !== undefined || stringParam((request.query as QueryString).access_token) !== undefined
}

const authorized = new WeakMap<FastifyRequest, Principal>()

/** The principal behind the request's token, allowed to push analytics from this origin. */
export async function authorize(request: FastifyRequest): Promise<Principal> {
  const known = authorized.get(request)
  if (known) return known
  const principal = await request.server.auth.require(requestToken(request), 'analytics:push', stringParam((request.query as QueryString).org))
  await assertOriginAllowed(request, principal.orgId)
  authorized.set(request, principal)
  return principal
}

/**
 * An onRequest hook: a token in the header or the query is checked before the body is read, so
 * a caller with bad credentials is refused without the service holding its body. (A beacon with
 * its token in the form body is authorized after parsing, under the small anonymous body limit.)
 */
export async function authorizeEarly(request: FastifyRequest): Promise<void> {
  if (hasTokenBeforeBody(request)) await authorize(request)
}

