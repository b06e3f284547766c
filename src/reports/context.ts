import type pg from 'pg'
import type { FastifyRequest } from 'fastify'
import { assertOriginAllowed } from '../auth/origins.js'
import type { Principal } from '../auth/principal.js'
import { ReportError } from './errors.js'
import type { Freshness } from './http/output.js'
import { first, type Query } from './params.js'

export interface OrgReportSettings {
  timezone?: string
  bindWindowHours: number
  supportConfigured: boolean
  minVisitors: number
}

export function orgSettings(settings: Record<string, unknown>): OrgReportSettings {
  const bind = typeof settings.bindWindowHours === 'number' ? Math.min(Math.max(settings.bindWindowHours, 1), 168) : 24
  const suggestions = settings.suggestions as { minVisitors?: unknown } | undefined
  return {
    timezone: typeof settings.timezone === 'string' ? settings.timezone : undefined,
    bindWindowHours: bind,
    supportConfigured: typeof settings.support === 'object' && settings.support !== null,
    minVisitors: typeof suggestions?.minVisitors === 'number' ? Math.max(1, Math.floor(suggestions.minVisitors)) : 3,
  }
}

/** The token of a read request: `Authorization: Bearer`, else query `access_token`. */
export function readToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw new ReportError('InvalidParameter', 'The Authorization header must read "Bearer <token>"')
    return match[1]
  }
  return first(request.query as Query, 'access_token')
}

/** An `analytics:read` key of its own org (a platform key names `org`), allowed from this origin. */
export async function authorizeRead(request: FastifyRequest): Promise<Principal> {
  const principal = await request.server.auth.require(readToken(request), 'analytics:read', first(request.query as Query, 'org'))
  await assertOriginAllowed(request, principal.orgId)
  return principal
}

/**
 * Run a report's queries on one read connection in one REPEATABLE READ, read-only transaction:
 * every figure of an answer comes from the same snapshot of facts, tiles and freshness.
 */
export async function withSnapshot<T>(pool: pg.Pool, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect()
  let failed: Error | undefined
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const result = await fn(db)
    await db.query('COMMIT')
    return result
  } catch (err) {
    failed = err as Error
    await db.query('ROLLBACK').catch(() => {})
    if ((err as { code?: string }).code === '57014') {
      throw new ReportError('QueryTimeout', 'The report took too long: narrow the range or the filter', undefined, { 'retry-after': '5' })
    }
    throw err
  } finally {
    db.release(failed && (failed as { code?: string }).code === undefined ? failed : undefined)
  }
}

/** Every event committed before completeUntil is counted; later points may still change after provisionalFrom. */
export async function freshness(db: pg.ClientBase, now: Date, bindWindowHours: number): Promise<Freshness> {
  const { rows } = await db.query<{ complete_until: Date | null }>('SELECT complete_until FROM report_state')
  const completeUntil = rows[0]?.complete_until ?? null
  return {
    completeUntil: completeUntil?.toISOString() ?? null,
    lagSeconds: completeUntil ? Math.max(0, Math.round((now.getTime() - completeUntil.getTime()) / 1000)) : null,
    provisionalFrom: new Date(now.getTime() - bindWindowHours * 3_600_000).toISOString(),
  }
}
