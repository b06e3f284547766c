import type pg from 'pg'

/** Anything that runs a query: a pool, or a client inside a transaction. */
type Queryable = Pick<pg.Pool, 'query'>

export type AuditAction =
  | 'org.create'
  | 'org.update'
  | 'key.create'
  | 'key.revoke'
  | 'inbenta.priority.set'
  | 'inbenta.priority.reset'
  | 'privacy.export'
  | 'privacy.erase'
  | 'retention.update'
  | 'org.identity.update'

export interface AuditEntry {
  /** `key:<key id>` over HTTP, `cli:<system user>` for a command. */
  actor: string
  orgId: string | null
  action: AuditAction
  /** What the action was about: a key id, a data key, an org id. Never a secret. */
  target?: string | null
  /** The changed values (never a secret, never the identifiers of a person). */
  details?: Record<string, unknown>
}

export interface AuditRecord extends Required<AuditEntry> {
  id: string
  at: Date
}

export async function recordAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query('INSERT INTO audit_log (actor, org_id, action, target, details) VALUES ($1, $2, $3, $4, $5)', [
    entry.actor,
    entry.orgId,
    entry.action,
    entry.target ?? null,
    JSON.stringify(entry.details ?? {}),
  ])
}

/**
 * The log, newest first, `limit` rows before the id `before` (a page's cursor). `orgs` limits it
 * to those organizations (null: all, for an admin of every organization).
 */
export async function listAudit(
  db: Queryable,
  options: { orgs: string[] | null; limit: number; before?: string | null },
): Promise<AuditRecord[]> {
  const { rows } = await db.query(
    `SELECT id::text, at, actor, org_id, action, target, details FROM audit_log
      WHERE ($1::text[] IS NULL OR org_id = ANY($1)) AND ($2::bigint IS NULL OR id < $2)
      ORDER BY id DESC LIMIT $3`,
    [options.orgs, options.before ?? null, options.limit],
  )
  return rows.map((r) => ({
    id: r.id as string,
    at: r.at as Date,
    actor: r.actor as string,
    orgId: r.org_id as string | null,
    action: r.action as AuditAction,
    target: r.target as string | null,
    details: r.details as Record<string, unknown>,
  }))
}
