import type { FastifyRequest } from 'fastify'
import { AuthError } from '../../auth/errors.js'
import type { Principal } from '../../auth/principal.js'

const PRIVILEGE = 'analytics:push'
const KEY_ID = /^[0-9a-f]{16}$/

/**
 * The principal behind a Workplace Search request. Elastic's clients send either
 * `Authorization: Bearer <token>` (`auth: { token }`) or `Authorization: Basic base64(user:pass)`
 * (`auth: { username, password }`). Mapping to searchtrack credentials:
 *
 * - Bearer: the token is any searchtrack token — an API key `st_<id>_<secret>` or a search token.
 * - Basic with a 16-hex username: username = the API key's public id, password = its secret (the
 *   two halves of `st_<id>_<secret>`, as Inbenta-style clients send them).
 * - Basic otherwise: the password is a whole searchtrack token and the username is ignored (so
 *   `auth: { username: 'searchtrack', password: <key> }` works for clients that only do Basic).
 *
 * `org` (optional query parameter) pins the organization: a platform key needs it, any other
 * credential must belong to it.
 */
export async function authenticate(request: FastifyRequest, org: string | undefined): Promise<Principal> {
  const header = request.headers.authorization
  if (!header) throw new AuthError('MissingToken', 'No Authorization header was provided')
  const space = header.indexOf(' ')
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase()
  const credentials = space === -1 ? '' : header.slice(space + 1).trim()

  if (scheme === 'bearer') return request.server.auth.require(credentials, PRIVILEGE, org)
  if (scheme !== 'basic') throw new AuthError('InvalidToken', 'The Authorization header must use the Bearer or Basic scheme')

  const decoded = Buffer.from(credentials, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) throw new AuthError('InvalidToken', 'Basic credentials must be username:password')
  const username = decoded.slice(0, colon)
  const password = decoded.slice(colon + 1)
  if (!KEY_ID.test(username)) return request.server.auth.require(password, PRIVILEGE, org)

  const principal = await request.server.auth.fromKeySecret(username, password)
  if (org && principal.orgId !== org) throw new AuthError('Forbidden', `This key does not give access to organization ${org}`)
  if (!principal.privileges.has(PRIVILEGE)) throw new AuthError('Forbidden', `This key lacks the ${PRIVILEGE} privilege`)
  return principal
}
