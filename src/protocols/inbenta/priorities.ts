import type pg from 'pg'
import { DEFAULT_PRIORITIES } from './actions.js'

export interface DataKeyPriority {
  dataKey: string
  priority: number
  /** 'default' = shipped, 'custom' = added for the org, 'override' = a default changed for it. */
  source: 'default' | 'custom' | 'override'
}

/**
 * Data keys and their priorities per org: the shipped defaults overlaid with the org's rows in
 * `inbenta_data_keys`. Read on every request (one primary-key range scan), so a change made by
 * the CLI in another process applies at once.
 */
export class DataKeyStore {
  constructor(private readonly pool: pg.Pool) {}

  async priorities(orgId: string): Promise<Map<string, number>> {
    const map = new Map(Object.entries(DEFAULT_PRIORITIES))
    const { rows } = await this.pool.query<{ data_key: string; priority: number }>(
      'SELECT data_key, priority FROM inbenta_data_keys WHERE org_id = $1',
      [orgId],
    )
    for (const row of rows) map.set(row.data_key, row.priority)
    return map
  }

  async list(orgId: string): Promise<DataKeyPriority[]> {
    const priorities = await this.priorities(orgId)
    return [...priorities]
      .map(([dataKey, priority]) => ({
        dataKey,
        priority,
        source: !(dataKey in DEFAULT_PRIORITIES)
          ? ('custom' as const)
          : DEFAULT_PRIORITIES[dataKey] === priority
            ? ('default' as const)
            : ('override' as const),
      }))
      .sort((a, b) => rank(a.priority) - rank(b.priority) || a.dataKey.localeCompare(b.dataKey))
  }

  async set(orgId: string, dataKey: string, priority: number): Promise<void> {
    await this.pool.query(
      // The time comes in the row, not in the update: Citus takes only immutable expressions in
      // DO UPDATE SET, and evaluates now() in VALUES before routing the row.
      `INSERT INTO inbenta_data_keys (org_id, data_key, priority, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (org_id, data_key) DO UPDATE SET priority = EXCLUDED.priority, updated_at = EXCLUDED.updated_at`,
      [orgId, dataKey, priority],
    )
  }

  /** Drop the org's own priority for a data key: back to the shipped default, or gone. */
  async reset(orgId: string, dataKey: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM inbenta_data_keys WHERE org_id = $1 AND data_key = $2', [orgId, dataKey])
    return (rowCount ?? 0) > 0
  }
}

/** Sort order of priorities: 1 first, 0 ("no priority") last. */
export function rank(priority: number): number {
  return priority === 0 ? Number.MAX_SAFE_INTEGER : priority
}
