import type { FastifyRequest } from 'fastify'
import type { Organization } from './keys.js'
import { HttpError } from '../errors.js'

/**
 * Per-org CORS enforcement. Preflights are answered for any origin (they carry no credentials,
 * so the org is unknown then); the real request is checked here once its token names the org.
 * A request from a browser origin the org does not allow is refused, and the browser never sees
 * the answer either.
 */
export function originAllowed(org: Pick<Organization, 'allowedOrigins'> | null, origin: string | undefined): boolean {
  if (!origin || !org || org.allowedOrigins === null) return true
  return org.allowedOrigins.includes('*') || org.allowedOrigins.includes(origin)
}

export async function assertOriginAllowed(request: FastifyRequest, orgId: string): Promise<void> {
  const origin = request.headers.origin
  if (!origin) return
  const org = await request.server.keys.getOrg(orgId)
  if (!originAllowed(org, origin)) {
    throw new HttpError(403, 'OriginNotAllowed', `Origin ${origin} is not allowed for organization ${orgId}`)
  }
}
