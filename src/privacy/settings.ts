import type pg from 'pg'

export type IpPolicy = 'masked' | 'none' | 'hash'
export type UserPolicy = 'keep' | 'hash' | 'drop'

export const IP_POLICIES: readonly IpPolicy[] = ['masked', 'none', 'hash']
export const USER_POLICIES: readonly UserPolicy[] = ['keep', 'hash', 'drop']

/** An org's privacy settings. Retention null = kept for ever. */
export interface PrivacySettings {
  rawDays: number | null
  rollupDays: number | null
  anonymous: boolean
  ipPolicy: IpPolicy
  userPolicy: UserPolicy
}

export const DEFAULT_SETTINGS: PrivacySettings = { rawDays: null, rollupDays: null, anonymous: false, ipPolicy: 'masked', userPolicy: 'keep' }

/** A value the settings refuse: a 400 (route) or a usage error (CLI). */
export class SettingsError extends Error {
  override name = 'SettingsError'
}

export const MAX_DAYS = 36500

interface Row {
  raw_days: number | null
  rollup_days: number | null
  anonymous: boolean
  ip_policy: IpPolicy
  user_policy: UserPolicy
}

const toSettings = (r: Row): PrivacySettings => ({
  rawDays: r.raw_days,
  rollupDays: r.rollup_days,
  anonymous: r.anonymous,
  ipPolicy: r.ip_policy,
  userPolicy: r.user_policy,
})

export async function readSettings(db: pg.Pool, orgId: string): Promise<PrivacySettings> {
  const { rows } = await db.query<Row>('SELECT raw_days, rollup_days, anonymous, ip_policy, user_policy FROM privacy_settings WHERE org_id = $1', [orgId])
  return rows[0] ? toSettings(rows[0]) : { ...DEFAULT_SETTINGS }
}

/** Every org's settings that differ from the defaults (orgs without a row use the defaults). */
export async function readAllSettings(db: pg.Pool): Promise<Map<string, PrivacySettings>> {
  const { rows } = await db.query<Row & { org_id: string }>('SELECT org_id, raw_days, rollup_days, anonymous, ip_policy, user_policy FROM privacy_settings')
  return new Map(rows.map((r) => [r.org_id, toSettings(r)]))
}

function checkDays(name: string, value: unknown): void {
  if (value === null) return
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DAYS) {
    throw new SettingsError(`${name} must be a whole number of days from 1 to ${MAX_DAYS}, or null (keep for ever)`)
  }
}

/** Change some of an org's settings; returns them all. The org must exist (checked by the caller). */
export async function updateSettings(db: pg.Pool, orgId: string, change: Partial<PrivacySettings>): Promise<PrivacySettings> {
  if ('rawDays' in change) checkDays('rawDays', change.rawDays)
  if ('rollupDays' in change) checkDays('rollupDays', change.rollupDays)
  if ('anonymous' in change && typeof change.anonymous !== 'boolean') throw new SettingsError('anonymous must be true or false')
  if ('ipPolicy' in change && !IP_POLICIES.includes(change.ipPolicy!)) throw new SettingsError(`ipPolicy must be one of ${IP_POLICIES.join(', ')}`)
  if ('userPolicy' in change && !USER_POLICIES.includes(change.userPolicy!)) throw new SettingsError(`userPolicy must be one of ${USER_POLICIES.join(', ')}`)
  const next = { ...(await readSettings(db, orgId)), ...change }
  await db.query(
    `INSERT INTO privacy_settings (org_id, raw_days, rollup_days, anonymous, ip_policy, user_policy, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (org_id) DO UPDATE SET raw_days = EXCLUDED.raw_days, rollup_days = EXCLUDED.rollup_days,
       anonymous = EXCLUDED.anonymous, ip_policy = EXCLUDED.ip_policy, user_policy = EXCLUDED.user_policy, updated_at = now()`,
    [orgId, next.rawDays, next.rollupDays, next.anonymous, next.ipPolicy, next.userPolicy],
  )
  return next
}
