import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { truncate } from '../../events/truncate.js'
import { VISITOR_MAX } from './fields.js'

export const VISITOR_COOKIE = 'visitor'
const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60

export interface ResolvedVisitor {
  id: string
  /** True when the service made the id up (nothing was sent): the cookie must then be set. */
  generated: boolean
  /** The id the client sent itself (`visitor`/`visitorId` parameter), if any. */
  sent?: string
  /** True when `id` is the value of the HttpOnly cookie, which the page itself cannot read. */
  fromCookie?: boolean
}

interface VisitorQuery {
  visitor?: unknown
  visitorId?: unknown
  prioritizeVisitorParameter?: unknown
}

function firstString(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return typeof v === 'string' && v !== '' ? v : undefined
}

/**
 * The request-level visitor, as Coveo's clients expect it: between the `visitor` query parameter (`visitorId` in
 * beacons) and the service's own `visitor` cookie, the cookie wins unless
 * `prioritizeVisitorParameter=true`. Nothing at all → a new UUID v4. A body `clientId` takes
 * precedence over all of this and is applied per event by the caller.
 */
export function resolveVisitor(request: FastifyRequest): ResolvedVisitor {
  const query = request.query as VisitorQuery
  const parameter = firstString(query.visitor) ?? firstString(query.visitorId)
  const cookie = firstString(request.cookies?.[VISITOR_COOKIE])
  const prioritize = firstString(query.prioritizeVisitorParameter)?.toLowerCase() === 'true'
  const sent = parameter && truncate(parameter, VISITOR_MAX)
  if (prioritize && sent) return { id: sent, generated: false, sent }
  if (cookie) return { id: truncate(cookie, VISITOR_MAX), generated: false, sent, fromCookie: true }
  if (sent) return { id: sent, generated: false, sent }
  return { id: randomUUID(), generated: true }
}

function sameOrigin(origin: string, request: FastifyRequest): boolean {
  try {
    return new URL(origin).host === request.host
  } catch {
    return false
  }
}

/**
 * May this response show a visitor id that came from the HttpOnly cookie? The cookie is there
 * to keep it from scripts: a page of any other site could otherwise read a visitor's id with one
 * credentialed fetch. So only to the service's own origin, to requests without an Origin
 * (navigations, servers), and to origins an organization lists by name in its allowed origins
 * (the organization of the token; without a token, any organization). Allowing any origin (the
 * default) lets any page send events, not read this id.
 */
export async function cookieDisclosable(request: FastifyRequest, orgId: string | null): Promise<boolean> {
  const origin = request.headers.origin
  if (origin === undefined || sameOrigin(origin, request)) return true
  if (orgId === null) return request.server.keys.originListedByAnyOrg(origin)
  const org = await request.server.keys.getOrg(orgId)
  return org?.allowedOrigins?.includes(origin) ?? false
}

/** The visitor id a response shows: the one resolved, or what the client sent when that came from a cookie it may not read. */
export function shownVisitorId(visitor: ResolvedVisitor, disclosable: boolean): string | null {
  return !visitor.fromCookie || disclosable ? visitor.id : (visitor.sent ?? null)
}

/**
 * Browsers drop a cookie set in a cross-site response unless it is `SameSite=None; Secure`, which
 * is only allowed over HTTPS. Site is approximated by host name (no public-suffix list): a
 * sibling subdomain also gets the cross-site attributes, which is harmless over HTTPS.
 */
function crossSiteOverHttps(request: FastifyRequest): boolean {
  if (request.protocol !== 'https') return false
  const fetchSite = request.headers['sec-fetch-site']
  if (fetchSite === 'cross-site') return true
  const origin = request.headers.origin
  if (!origin) return false
  try {
    return new URL(origin).hostname !== request.hostname
  } catch {
    return false
  }
}

/** Over HTTPS the cookie is always `Secure` (never sent in clear); cross-site it needs `SameSite=None` too. */
function cookieAttributes(request: FastifyRequest) {
  const secure = request.protocol === 'https'
  return { path: '/', httpOnly: true, secure, sameSite: crossSiteOverHttps(request) ? ('none' as const) : ('lax' as const) }
}

export function setVisitorCookie(request: FastifyRequest, reply: FastifyReply, id: string): void {
  reply.setCookie(VISITOR_COOKIE, id, { ...cookieAttributes(request), maxAge: ONE_YEAR_SECONDS })
}

export function clearVisitorCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(VISITOR_COOKIE, cookieAttributes(request))
}
