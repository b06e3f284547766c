import type { FastifyRequest } from 'fastify'
import { AuthError } from '../auth/errors.js'
import { parseApiKey } from '../auth/keys.js'
import { HttpError } from '../errors.js'

// TEMPORARY: a minimal stand-in for the admin framework's requireAdmin (src/admin/auth.ts), with
// the same signature; replaced by an import of it when that is merged.
export interface AdminPrincipal {
  keyId: string
  orgId: string
  actor: string
}

export async function requireAdmin(request: FastifyRequest, orgId: string): Promise<AdminPrincipal> {
  const header = request.headers.authorization
  if (!header) throw new AuthError('MissingToken', 'No access token was provided: send Authorization: Bearer <admin key>')
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
  if (!token) throw new HttpError(400, 'InvalidParameter', 'The Authorization header must read "Bearer <token>"')
  if (!parseApiKey(token)) throw new AuthError('InvalidToken', 'Admin routes take an API key (st_…) with the admin privilege')
  const key = await request.server.keys.verifyApiKey(token)
  if (!key) throw new AuthError('InvalidToken', 'The key is not valid')
  if (!key.privileges.includes('admin')) throw new AuthError('Forbidden', 'This key lacks the admin privilege')
  const orgs = key.platformOrgs ?? [key.orgId]
  if (!orgs.includes('*') && !orgs.includes(orgId)) throw new AuthError('Forbidden', `This key does not administer organization ${orgId}`)
  return { keyId: key.keyId, orgId: key.orgId, actor: `key:${key.keyId}` }
}
