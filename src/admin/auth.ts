import type { FastifyRequest } from 'fastify'
import { AuthError } from '../auth/errors.js'
import { parseApiKey } from '../auth/keys.js'
import { HttpError } from '../errors.js'

/** The admin key a request carries, and the organizations it manages. */
export interface AdminPrincipal {
  keyId: string
  /** The key's own organization. */
  orgId: string
  /** Organizations it may manage: its own, or a platform key's list; '*' = every one. */
  orgs: readonly string[] | '*'
  /** What the audit log records as the actor. */
  actor: string
}

/**
 * The admin key of a request (`Authorization: Bearer st_…` with the `admin` privilege). Only API
 * keys administer: a search token never carries `admin`, and a key is what the audit log can name.
 */
export async function adminOf(request: FastifyRequest): Promise<AdminPrincipal> {
  const header = request.headers.authorization
  if (!header) throw new AuthError('MissingToken', 'No access token was provided: send Authorization: Bearer <admin key>')
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
  if (!token) throw new HttpError(400, 'InvalidParameter', 'The Authorization header must read "Bearer <token>"')
  if (!parseApiKey(token)) throw new AuthError('InvalidToken', 'Admin routes take an API key (st_…) with the admin privilege')
  const key = await request.server.keys.verifyApiKey(token)
  if (!key) throw new AuthError('InvalidToken', 'The key is not valid')
  if (!key.privileges.includes('admin')) throw new AuthError('Forbidden', 'This key lacks the admin privilege')
  const orgs = key.platformOrgs?.includes('*') ? '*' : (key.platformOrgs ?? [key.orgId])
  return { keyId: key.keyId, orgId: key.orgId, orgs, actor: `key:${key.keyId}` }
}

export function manages(admin: AdminPrincipal, orgId: string): boolean {
  return admin.orgs === '*' || admin.orgs.includes(orgId)
}

/** The admin key of a request, which must manage `orgId`. */
export async function requireAdmin(request: FastifyRequest, orgId: string): Promise<AdminPrincipal> {
  const admin = await adminOf(request)
  if (!manages(admin, orgId)) throw new AuthError('Forbidden', `This key does not administer organization ${orgId}`)
  return admin
}
