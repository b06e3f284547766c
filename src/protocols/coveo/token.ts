import type { FastifyPluginAsync } from 'fastify'
import type { SearchTokenClaims } from '../../auth/principal.js'
import { CoveoError } from './errors.js'
import { requestToken } from './request.js'

const DAY_MS = 24 * 60 * 60 * 1000

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
  return value
}

function parseUserIds(value: unknown): NonNullable<SearchTokenClaims['userIds']> {
  if (value === undefined || value === null) throw new CoveoError(400, 'MissingParameter', 'Field "userIds" is required')
  if (!Array.isArray(value) || value.length === 0) {
    throw new CoveoError(400, 'InvalidObject', 'Field "userIds" must be a non-empty array of {name, provider, type}')
  }
  return value.map((item: unknown, i) => {
    const user = item as Record<string, unknown> | null
    if (typeof user !== 'object' || user === null || typeof user.name !== 'string' || user.name === '') {
      throw new CoveoError(400, 'InvalidObject', `Field "userIds[${i}].name" must be a non-empty string`)
    }
    for (const key of ['provider', 'type'] as const) {
      if (user[key] !== undefined && typeof user[key] !== 'string') {
        throw new CoveoError(400, 'InvalidObject', `Field "userIds[${i}].${key}" must be a string`)
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
  app.post('/rest/search/v2/token', async (request) => {
    const org = (request.query as { org?: string; organizationId?: string }).org ?? (request.query as { organizationId?: string }).organizationId
    const principal = await app.auth.require(requestToken(request), 'impersonate', typeof org === 'string' ? org : undefined)
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
    const token = await app.auth.signSearchToken(principal.orgId, claims, Math.floor(validForMs / 1000))
    return { token }
  })
}
