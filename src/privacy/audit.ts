import type pg from 'pg'

// TEMPORARY: a minimal stand-in for the admin framework's recordAudit (src/admin/), to be replaced
// by a re-export of it when that is merged. Writes to `audit_log` when the table exists.
export interface AuditEntry {
  actor: string
  orgId: string
  action: string
  target?: string
  details?: Record<string, unknown>
}

export async function recordAudit(db: pg.Pool | pg.ClientBase, entry: AuditEntry): Promise<void> {
  const { rows } = await db.query<{ t: string | null }>(`SELECT to_regclass('audit_log')::text AS t`)
  if (!rows[0]?.t) return
  await db.query('INSERT INTO audit_log (actor, org_id, action, target, details) VALUES ($1, $2, $3, $4, $5)', [
    entry.actor,
    entry.orgId,
    entry.action,
    entry.target ?? null,
    entry.details ?? null,
  ])
}
