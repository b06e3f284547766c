import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { TOKEN_USER_NAME_MAX, type Principal, type SearchTokenClaims } from '../../auth/principal.js'
import { CoveoError } from './errors.js'
import { requestToken } from './request.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** Claims other than the user name: as long as the event columns they end up in allow. */
const CLAIM_MAX = 128
/** Users a token may name (Coveo tokens name one per identity provider). */
const USER_IDS_MAX = 16

interface TokenBody {
  userIds?: unknown
  searchHub?: unknown
  pipeline?: unknown
  userDisplayName?: unknown
  validFor?: unknown
}

function optionalString(body: TokenBody, name: 'searchHub' | 'pipeline' | 'userDisplayName'): string | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new CoveoError(400, 'InvalidObject', `Field "${name}" must be a string`)
  if (value.length > CLAIM_MAX) throw new CoveoError(400, 'InvalidObject', `Field "${name}" must be at most ${CLAIM_MAX} characters`)
  return value
}

function parseUserIds(value: unknown): NonNullable<SearchTokenClaims['userIds']> {
  if (value === undefined || value === null) throw new CoveoError(400, 'MissingParameter', 'Field "userIds" is required')
  if (!Array.isArray(value) || value.length === 0 || value.length > USER_IDS_MAX) {
    throw new CoveoError(400, 'InvalidObject', `Field "userIds" must be an array of 1 to ${USER_IDS_MAX} {name, provider, type}`)
  }
  return value.map((item: unknown, i) => {
    const user = item as Record<string, unknown> | null
    if (typeof user !== 'object' || user === null || typeof user.name !== 'string' || user.name === '') {
      throw new CoveoError(400, 'InvalidObject', `Field "userIds[${i}].name" must be a non-empty string`)
    }
    if (user.name.length > TOKEN_USER_NAME_MAX) {
      throw new CoveoError(400, 'InvalidObject', `Field "userIds[${i}].name" must be at most ${TOKEN_USER_NAME_MAX} characters`)
    }
    for (const key of ['provider', 'type'] as const) {
      if (user[key] !== undefined && (typeof user[key] !== 'string' || (user[key] as string).length > CLAIM_MAX)) {
        throw new CoveoError(400, 'InvalidObject', `Field "userIds[${i}].${key}" must be a string of at most ${CLAIM_MAX} characters`)
      }
    }
    return { name: user.name, provider: user.provider as string | undefined, type: user.type as string | undefined }
  })
}

/**
 * Search-token minting like Coveo's `POST /rest/search/v2/token`: a search backend holding an
 * impersonate key asks for a short-lived token naming a user, and hands it to the browser.
 * `validFor` is in milliseconds as in Coveo's API (default and maximum: 24 hours).
 */
export const tokenRoute: FastifyPluginAsync = async (app) => {
  const principals = new WeakMap<FastifyRequest, Principal>()
  // The key is checked before the body is read (it can only come in the header or the query).
  const authorizeEarly = async (request: FastifyRequest) => {
    const org = (request.query as { org?: string; organizationId?: string }).org ?? (request.query as { organizationId?: string }).organizationId
    principals.set(request, await app.auth.require(requestToken(request), 'impersonate', typeof org === 'string' ? org : undefined))
  }
  app.post('/rest/search/v2/token', { onRequest: authorizeEarly }, async (request) => {
    const principal = principals.get(request)!
    const body = request.body as TokenBody | undefined
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new CoveoError(400, 'InvalidObject', 'The body must be a JSON object')
    }
    const userIds = parseUserIds(body.userIds)
    let validForMs = DAY_MS
    if (body.validFor !== undefined && body.validFor !== null) {
      if (typeof body.validFor !== 'number' || !Number.isInteger(body.validFor) || body.validFor < 1000 || body.validFor > DAY_MS) {
        throw new CoveoError(400, 'InvalidObject', `Field "validFor" must be an integer number of milliseconds from 1000 to ${DAY_MS}`)
      }
      validForMs = body.validFor
    }
    const claims: SearchTokenClaims = {
      userIds,
      searchHub: optionalString(body, 'searchHub'),
      pipeline: optionalString(body, 'pipeline'),
      userDisplayName: optionalString(body, 'userDisplayName'),
    }
    const token = await app.auth.signSearchToken(principal.orgId, claims, Math.floor(validForMs / 1000), principal.keyId)
    return { token }
  })
}
