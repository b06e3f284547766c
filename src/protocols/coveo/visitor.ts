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
 * The request-level visitor (seed 000): between the `visitor` query parameter (`visitorId` in
 * beacons) and the service's own `visitor` cookie, the cookie wins unless
 * `prioritizeVisitorParameter=true`. Nothing at all → a new UUID v4. A body `clientId` takes
 * precedence over all of this and is applied per event by the caller.
 */
export function resolveVisitor(request: FastifyRequest): ResolvedVisitor {
  const query = request.query as VisitorQuery
  const parameter = firstString(query.visitor) ?? firstString(query.visitorId)
  const cookie = firstString(request.cookies?.[VISITOR_COOKIE])
  const prioritize = firstString(query.prioritizeVisitorParameter)?.toLowerCase() === 'true'
  const chosen = prioritize && parameter ? parameter : (cookie ?? parameter)
  if (chosen) return { id: truncate(chosen, VISITOR_MAX), generated: false }
  return { id: randomUUID(), generated: true }
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

export function setVisitorCookie(request: FastifyRequest, reply: FastifyReply, id: string): void {
  const crossSite = crossSiteOverHttps(request)
  reply.setCookie(VISITOR_COOKIE, id, {
    path: '/',
    maxAge: ONE_YEAR_SECONDS,
    httpOnly: true,
    ...(crossSite ? { sameSite: 'none' as const, secure: true } : { sameSite: 'lax' as const }),
  })
}

export function clearVisitorCookie(request: FastifyRequest, reply: FastifyReply): void {
  const crossSite = crossSiteOverHttps(request)
  reply.clearCookie(VISITOR_COOKIE, {
    path: '/',
    httpOnly: true,
    ...(crossSite ? { sameSite: 'none' as const, secure: true } : {}),
  })
}
