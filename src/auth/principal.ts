import type { JWT } from '@fastify/jwt'
import type { Algorithm } from 'fast-jwt'
import { AuthError } from './errors.js'
import { type Privilege, type KeyStore, parseApiKey } from './keys.js'

export interface Principal {
  orgId: string
  kind: 'api-key' | 'platform-key' | 'search-token'
  /** The API key's public id (api-key, platform-key). */
  keyId?: string
  privileges: ReadonlySet<Privilege>
  /** The user a search token was issued for (its first userIds entry). */
  userId?: string
  userDisplayName?: string
  searchHub?: string
  pipeline?: string
  claims: Record<string, unknown>
}

export interface SearchTokenClaims {
  userIds?: Array<{ name: string; provider?: string; type?: string }>
  searchHub?: string
  pipeline?: string
  userDisplayName?: string
}

// Only these are ever accepted: `none` and anything unexpected (HS384, PS256…) are refused before
// a key is even chosen, which also rules out RS/HS confusion (an HS256 token is checked only
// against the org's HMAC secret, an RS/ES token only against its public keys).
const HMAC_ALGORITHMS: Algorithm[] = ['HS256']
const PUBLIC_KEY_ALGORITHMS: Algorithm[] = ['RS256', 'ES256']

/**
 * The longest user name a search token may carry. The name becomes a visitor id for protocols
 * that have no other (Workplace), and visitor ids are indexed: a token with a longer name —
 * whoever signed it — is refused rather than stored as an event the database cannot index.
 */
export const TOKEN_USER_NAME_MAX = 255

/** A search token grants logging for its own org and user, nothing more. */
const SEARCH_TOKEN_PRIVILEGES: ReadonlySet<Privilege> = new Set(['analytics:push'])

/**
 * From a request's credentials to a principal: the one function every protocol adapter calls.
 * `org` is the org the request names (query `org`, a path segment); a platform key needs it, any
 * other credential must belong to it when given.
 */
export class Authenticator {
  constructor(
    private readonly keys: KeyStore,
    private readonly jwt: JWT,
  ) {}

  async authenticate(token: string | undefined | null, org?: string | null): Promise<Principal> {
    if (!token) throw new AuthError('MissingToken', 'No access token was provided')
    const principal = parseApiKey(token) ? await this.fromApiKey(token, org) : await this.fromSearchToken(token)
    if (org && principal.orgId !== org) {
      throw new AuthError('Forbidden', `This token does not give access to organization ${org}`)
    }
    return principal
  }

  /** Like authenticate, and the principal must hold `privilege`. */
  async require(token: string | undefined | null, privilege: Privilege, org?: string | null): Promise<Principal> {
    const principal = await this.authenticate(token, org)
    if (!principal.privileges.has(privilege)) {
      throw new AuthError('Forbidden', `This token lacks the ${privilege} privilege`)
    }
    return principal
  }

  /** Build the principal of an API key given as its two halves (Inbenta-style auth). */
  async fromKeySecret(keyId: string, secret: string): Promise<Principal> {
    const key = await this.keys.verifyKeySecret(keyId, secret)
    if (!key) throw new AuthError('InvalidToken', 'The key or secret is not valid')
    return { orgId: key.orgId, kind: 'api-key', keyId: key.keyId, privileges: new Set(key.privileges), claims: {} }
  }

  /**
   * Mint a search token. `issuerKeyId` (the key that asked for it) is kept in the token, so that
   * revoking that key ends its tokens too, within the key cache's lifetime.
   */
  async signSearchToken(orgId: string, claims: SearchTokenClaims, validForSeconds: number, issuerKeyId?: string): Promise<string> {
    const org = await this.keys.getOrg(orgId)
    if (!org) throw new AuthError('Forbidden', `Unknown organization ${orgId}`)
    const payload = { ...claims, organization: orgId, v8: true, roles: ['queryExecutor'], ...(issuerKeyId ? { issuerKeyId } : {}) }
    // @fastify/jwt reads a numeric expiresIn as seconds.
    return this.jwt.sign(payload, { key: org.jwtSecret, algorithm: 'HS256', expiresIn: validForSeconds })
  }

  private async fromApiKey(token: string, org: string | null | undefined): Promise<Principal> {
    const key = await this.keys.verifyApiKey(token)
    if (!key) throw new AuthError('InvalidToken', 'The access token is not valid')
    const privileges = new Set(key.privileges)
    if (!key.platformOrgs) return { orgId: key.orgId, kind: 'api-key', keyId: key.keyId, privileges, claims: {} }
    if (!org) {
      throw new AuthError('OrgRequired', 'This platform token reaches several organizations: name one with the org parameter')
    }
    if (!key.platformOrgs.includes('*') && !key.platformOrgs.includes(org) && key.orgId !== org) {
      throw new AuthError('Forbidden', `This token does not give access to organization ${org}`)
    }
    if (!(await this.keys.getOrg(org))) throw new AuthError('Forbidden', `Unknown organization ${org}`)
    return { orgId: org, kind: 'platform-key', keyId: key.keyId, privileges, claims: {} }
  }

  private async fromSearchToken(token: string): Promise<Principal> {
    let decoded: { header: { alg?: string }; payload: Record<string, unknown> }
    try {
      decoded = this.jwt.decode(token, { complete: true }) as typeof decoded
    } catch {
      throw new AuthError('InvalidToken', 'The access token is not valid')
    }
    if (!decoded?.header || typeof decoded.payload !== 'object' || decoded.payload === null) {
      throw new AuthError('InvalidToken', 'The access token is not valid')
    }
    const alg = (decoded.header.alg ?? 'none') as Algorithm
    const orgId = decoded.payload.organization
    if (typeof orgId !== 'string') throw new AuthError('InvalidToken', 'The access token names no organization')
    const org = await this.keys.getOrg(orgId)
    if (!org) throw new AuthError('InvalidToken', 'The access token is not valid')

    let candidates: string[]
    if (HMAC_ALGORITHMS.includes(alg)) candidates = [org.jwtSecret]
    else if (PUBLIC_KEY_ALGORITHMS.includes(alg)) candidates = org.jwtPublicKeys
    else throw new AuthError('InvalidToken', `Tokens signed with ${alg} are not accepted`)

    let payload: Record<string, unknown> | undefined
    let expired = false
    for (const key of candidates) {
      try {
        payload = this.jwt.verify(token, { key, algorithms: [alg] }) as Record<string, unknown>
        break
      } catch (err) {
        if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') expired = true
      }
    }
    if (!payload) throw new AuthError('InvalidToken', expired ? 'The access token has expired' : 'The access token is not valid')
    if (payload.issuerKeyId !== undefined) {
      if (typeof payload.issuerKeyId !== 'string' || !(await this.keys.isKeyActive(payload.issuerKeyId))) {
        throw new AuthError('InvalidToken', 'The access token was issued by a key that has been revoked')
      }
    }

    const userIds = Array.isArray(payload.userIds) ? (payload.userIds as Array<{ name?: unknown }>) : []
    const firstUser = userIds.find((u) => typeof u?.name === 'string')
    if (firstUser && (firstUser.name as string).length > TOKEN_USER_NAME_MAX) {
      throw new AuthError('InvalidToken', `The access token's user name is longer than ${TOKEN_USER_NAME_MAX} characters`)
    }
    return {
      orgId,
      kind: 'search-token',
      privileges: SEARCH_TOKEN_PRIVILEGES,
      userId: firstUser?.name as string | undefined,
      userDisplayName: typeof payload.userDisplayName === 'string' ? payload.userDisplayName : undefined,
      searchHub: typeof payload.searchHub === 'string' ? payload.searchHub : undefined,
      pipeline: typeof payload.pipeline === 'string' ? payload.pipeline : undefined,
      claims: payload,
    }
  }
}
