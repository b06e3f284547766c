import type pg from 'pg'
import {
  InvalidValueError,
  NotFoundError,
  isPrivilege,
  type ApiKeyRecord,
  type CreatedKey,
  type KeyStore,
  type Organization,
  type Privilege,
} from '../auth/keys.js'
import { DATA_KEY_PATTERN } from '../protocols/inbenta/actions.js'
import { DataKeyStore } from '../protocols/inbenta/priorities.js'
import { recordAudit } from './audit.js'

/** An organization with that id exists already. */
export class AlreadyExistsError extends Error {
  override name = 'AlreadyExistsError'
}

export const PRIORITY_MAX = 1000

/**
 * Every change an administrator can make, for the admin commands and the admin routes alike, each
 * checked the same way and written to the audit log. `actor` says who: `key:<id>` over HTTP,
 * `cli:<system user>` for a command. The change is made first and logged after: a log entry never
 * describes something that did not happen.
 */
export class AdminOperations {
  private readonly dataKeys: DataKeyStore

  constructor(
    private readonly db: pg.Pool,
    private readonly keys: KeyStore,
  ) {
    this.dataKeys = new DataKeyStore(db)
  }

  async createOrg(actor: string, options: { id: string; name?: string; allowedOrigins?: string[] | null }): Promise<Organization> {
    const allowedOrigins = options.allowedOrigins === undefined ? undefined : checkOrigins(options.allowedOrigins)
    if (await this.keys.getOrg(options.id)) throw new AlreadyExistsError(`organization ${options.id} already exists`)
    let org = await this.keys.createOrg(options.id, options.name ?? options.id).catch((err: { code?: string }) => {
      // Created by someone else between the check and the insert.
      if (err.code === '23505') throw new AlreadyExistsError(`organization ${options.id} already exists`)
      throw err
    })
    if (allowedOrigins !== undefined) org = await this.keys.updateOrg(org.orgId, { allowedOrigins })
    await recordAudit(this.db, { actor, orgId: org.orgId, action: 'org.create', target: org.orgId, details: { name: org.name, allowedOrigins: org.allowedOrigins } })
    return org
  }

  async updateOrg(actor: string, orgId: string, changes: { name?: string; allowedOrigins?: string[] | null }): Promise<Organization> {
    const allowedOrigins = changes.allowedOrigins === undefined ? undefined : checkOrigins(changes.allowedOrigins)
    const org = await this.keys.updateOrg(orgId, { name: changes.name, allowedOrigins })
    await recordAudit(this.db, { actor, orgId, action: 'org.update', target: orgId, details: { name: changes.name, allowedOrigins } })
    return org
  }

  async createKey(
    actor: string,
    options: { orgId: string; privileges: string[]; name?: string; platformOrgs?: string[] | null },
  ): Promise<CreatedKey & { record: ApiKeyRecord }> {
    const privileges = [...new Set(options.privileges)]
    const unknown = privileges.filter((p) => !isPrivilege(p))
    if (privileges.length === 0 || unknown.length > 0) {
      throw new InvalidValueError(
        `privileges must list some of analytics:push, analytics:read, impersonate, admin${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`,
      )
    }
    if (options.platformOrgs?.some((o) => o !== '*' && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(o))) {
      throw new InvalidValueError('platform organizations are organization ids, or * for all')
    }
    if (!(await this.keys.getOrg(options.orgId))) throw new NotFoundError(`no organization ${options.orgId}`)
    const created = await this.keys.createKey({ ...options, privileges: privileges as Privilege[] })
    const record = (await this.keys.listKeys(options.orgId)).find((k) => k.keyId === created.id)!
    await recordAudit(this.db, {
      actor,
      orgId: options.orgId,
      action: 'key.create',
      target: created.id,
      details: { name: record.name, privileges, platformOrgs: record.platformOrgs },
    })
    return { ...created, record }
  }

  /** Revoke a key; with `orgId`, only one of that organization's (another's is not found). */
  async revokeKey(actor: string, keyId: string, orgId?: string): Promise<ApiKeyRecord> {
    if (orgId !== undefined) {
      const owned = (await this.keys.listKeys(orgId)).some((k) => k.keyId === keyId)
      if (!owned) throw new NotFoundError(`no key ${keyId} in organization ${orgId}`)
    }
    const key = await this.keys.revokeKey(keyId)
    await recordAudit(this.db, { actor, orgId: key.orgId, action: 'key.revoke', target: keyId, details: { name: key.name } })
    return key
  }

  listPriorities(orgId: string) {
    return this.dataKeys.list(orgId)
  }

  async setPriority(actor: string, orgId: string, dataKey: string, priority: number): Promise<void> {
    if (!DATA_KEY_PATTERN.test(dataKey)) throw new InvalidValueError('a data key is upper-case letters, digits and _, such as MY_CUSTOM_KEY (at most 64)')
    if (!Number.isInteger(priority) || priority < 0 || priority > PRIORITY_MAX) {
      throw new InvalidValueError(`a priority is an integer from 0 (no priority) to ${PRIORITY_MAX}; 1 is the most important`)
    }
    if (!(await this.keys.getOrg(orgId))) throw new NotFoundError(`no organization ${orgId}`)
    await this.dataKeys.set(orgId, dataKey, priority)
    await recordAudit(this.db, { actor, orgId, action: 'inbenta.priority.set', target: dataKey, details: { priority } })
  }

  /** Back to the shipped default (or gone, for a key the org added). False when there was nothing to reset. */
  async resetPriority(actor: string, orgId: string, dataKey: string): Promise<boolean> {
    const reset = await this.dataKeys.reset(orgId, dataKey)
    if (reset) await recordAudit(this.db, { actor, orgId, action: 'inbenta.priority.reset', target: dataKey })
    return reset
  }
}

/**
 * Allowed origins are exact browser origins (`https://shop.example`, `http://localhost:3000`),
 * compared with the Origin header as sent: a path, a wildcard or a trailing slash would never
 * match, so they are refused here rather than silently locking a site out.
 */
function checkOrigins(origins: string[] | null): string[] | null {
  if (origins === null) return null
  if (origins.length > 100) throw new InvalidValueError('at most 100 allowed origins')
  for (const origin of origins) {
    let parsed: URL | null = null
    try {
      parsed = new URL(origin)
    } catch {
      /* refused below */
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new InvalidValueError(`${JSON.stringify(origin.slice(0, 200))} is not an origin: write scheme://host[:port], such as https://www.shop.example`)
    }
  }
  return [...new Set(origins)]
}
