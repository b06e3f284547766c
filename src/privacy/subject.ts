import { createHash } from 'node:crypto'
import type pg from 'pg'

/** How a request names a person: exactly one of these. */
export interface SubjectSelector {
  visitorId?: string
  userName?: string
  /** An Inbenta session id (what `POST /v1/tracking/session` answered as sessionId). */
  inbentaSession?: string
  /** A field of Inbenta user information (`POST /tracking/session/user` data), e.g. email = x. */
  inbentaUser?: { field: string; value: string }
}

/** The identifiers stored for a person in one org: every row naming one of them is theirs. */
export interface Subject {
  orgId: string
  visitorIds: string[]
  userNames: string[]
}

/** A selector that names no one, or more than one kind of identifier: a 400. */
export class SubjectError extends Error {
  override name = 'SubjectError'
}

const MAX_IDENTIFIER = 1024
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Check a selector: exactly one non-empty identifier of at most 1024 characters. */
export function checkSelector(selector: SubjectSelector): void {
  const given = (['visitorId', 'userName', 'inbentaSession', 'inbentaUser'] as const).filter((k) => selector[k] !== undefined && selector[k] !== null)
  if (given.length !== 1) throw new SubjectError('Name exactly one of visitorId, userName, inbentaSession, inbentaUser')
  if (given[0] === 'inbentaUser') {
    const { field, value } = selector.inbentaUser!
    for (const [name, v] of [['inbentaUser.field', field], ['inbentaUser.value', value]] as const) {
      if (typeof v !== 'string' || v.length === 0 || v.length > MAX_IDENTIFIER || v.includes('\u0000')) {
        throw new SubjectError(`${name} must be a non-empty string of at most ${MAX_IDENTIFIER} characters`)
      }
    }
    return
  }
  const value = selector[given[0]!]
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDENTIFIER || value.includes('\u0000')) {
    throw new SubjectError(`${given[0]} must be a non-empty string of at most ${MAX_IDENTIFIER} characters`)
  }
}

/**
 * The identifiers of the person a selector names. An Inbenta session is a visit of the session
 * token's visitor (`inbenta:<token>`): the person is that visitor, every session of the token.
 */
export async function resolveSubject(db: pg.Pool, orgId: string, selector: SubjectSelector): Promise<Subject> {
  checkSelector(selector)
  if (selector.visitorId !== undefined) return { orgId, visitorIds: [selector.visitorId], userNames: [] }
  // Protocols without a visitor of their own use the user as the visitor (App Search, Workplace,
  // a token's user): the user name is then also a visitor id.
  if (selector.userName !== undefined) return { orgId, visitorIds: [selector.userName], userNames: [selector.userName] }
  if (selector.inbentaUser !== undefined) {
    // The session tokens whose user information carried that field and value: each is a visitor.
    const { rows } = await db.query<{ visitor_id: string }>(
      `SELECT DISTINCT visitor_id FROM events
        WHERE org_id = $1 AND protocol = 'inbenta' AND event_type = 'USER_INFO' AND visitor_id IS NOT NULL
          AND custom_data->>$2 = $3`,
      [orgId, selector.inbentaUser.field, selector.inbentaUser.value],
    )
    return { orgId, visitorIds: rows.map((r) => r.visitor_id), userNames: [] }
  }
  const session = selector.inbentaSession!
  if (!UUID.test(session)) return { orgId, visitorIds: [], userNames: [] }
  // The events' partial index on Inbenta session actions, and the report facts by visit.
  const { rows } = await db.query<{ visitor_id: string }>(
    `SELECT visitor_id FROM events
      WHERE org_id = $1 AND visit_id = $2 AND protocol = 'inbenta' AND extra ? 'dataKey' AND visitor_id IS NOT NULL
     UNION
     SELECT visitor_id FROM report_visits WHERE org_id = $1 AND visit_id = $2 AND visitor_id IS NOT NULL`,
    [orgId, session],
  )
  return { orgId, visitorIds: rows.map((r) => r.visitor_id), userNames: [] }
}

/** True when a subject names nobody stored (an unknown Inbenta session). */
export function isEmpty(subject: Subject): boolean {
  return subject.visitorIds.length === 0 && subject.userNames.length === 0
}

/**
 * A digest of what a request named, for the audit log: never the identifier itself. Salted with
 * the org so equal identifiers of two orgs do not match.
 */
export function auditDigest(orgId: string, selector: SubjectSelector): string {
  const [kind, value] = Object.entries(selector).find(([, v]) => v !== undefined) ?? ['none', '']
  return createHash('sha256').update(`${orgId}\u0000${kind}\u0000${JSON.stringify(value)}`).digest('hex').slice(0, 16)
}

/** Does a stored event (camelCase, as in the spool and the quarantine) belong to the subject? */
export function eventMatches(subject: Subject, event: { orgId?: unknown; visitorId?: unknown; username?: unknown }): boolean {
  if (event.orgId !== subject.orgId) return false
  return (
    (typeof event.visitorId === 'string' && subject.visitorIds.includes(event.visitorId)) ||
    (typeof event.username === 'string' && subject.userNames.includes(event.username))
  )
}
