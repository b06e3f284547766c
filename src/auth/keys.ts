import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import type pg from 'pg'
import { LRUCache } from 'lru-cache'
import { isDatabaseUnavailable } from '../store/failures.js'

export const PRIVILEGES = ['analytics:push', 'analytics:read', 'impersonate', 'admin'] as const
export type Privilege = (typeof PRIVILEGES)[number]

export function isPrivilege(value: string): value is Privilege {
  return (PRIVILEGES as readonly string[]).includes(value)
}

export interface Organization {
  orgId: string
  name: string
  jwtSecret: string
  jwtPublicKeys: string[]
  /** Browser origins allowed to send events; null = any. */
  allowedOrigins: string[] | null
  settings: Record<string, unknown>
  createdAt: Date
}

export interface ApiKeyRecord {
  keyId: string
  orgId: string
  name: string
  privileges: Privilege[]
  /** Orgs a platform key may act for ('*' = all); null for an ordinary key. */
  platformOrgs: string[] | null
  createdAt: Date
  revokedAt: Date | null
}

export interface CreatedKey {
  id: string
  key: string
  org: string
  privileges: Privilege[]
}

// An API key reads `st_<16 hex: public key id>_<43 base64url: secret>`. The id is what the
// database looks up (and what Inbenta-style clients send as their public key); only a hash of
// the secret is stored.
const KEY_PATTERN = /^st_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

export function parseApiKey(token: string): { keyId: string; secret: string } | null {
  const match = KEY_PATTERN.exec(token)
  return match ? { keyId: match[1]!, secret: match[2]! } : null
}

// The one-shot hash: createHash().update().digest() costs twice as much, on every request.
function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer')
}

interface CachedKey {
  key: ApiKeyRecord
  secretHash: Buffer
}

export class NotFoundError extends Error {
  override name = 'NotFoundError'
}

/** A value an admin gave that cannot be stored (too long, badly formed). */
export class InvalidValueError extends Error {
  override name = 'InvalidValueError'
}

export const ORG_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/
export const NAME_MAX = 128

function checkName(what: string, value: string): void {
  if (value.length > NAME_MAX) throw new InvalidValueError(`${what} must be at most ${NAME_MAX} characters`)
}

/** Entries kept: far more keys and orgs than an installation has, and bounded whatever it sees. */
const CACHE_MAX = 10_000

/**
 * Organizations and API keys: the repository for both, with a short-lived cache so that a
 * request does not cost a query. The cache is why a revocation made by another process takes
 * effect within `cacheTtlMs`; one made through this store takes effect at once.
 *
 * The caches hold records the database returned, never a miss: an id that exists nowhere comes
 * from whoever sent it (an unverified token, a guessed key id), so remembering misses would let
 * anyone fill memory. They are bounded (least recently used first out). While the database is
 * unreachable, a record past its lifetime is still served: keys and orgs known before an outage
 * keep working through it, and a revocation applies as soon as the database answers again.
 */
export class KeyStore {
  private keyCache = new LRUCache<string, { at: number; record: CachedKey }>({ max: CACHE_MAX })
  private orgCache = new LRUCache<string, { at: number; org: Organization }>({ max: CACHE_MAX })
  private originCache = new LRUCache<string, { at: number; allowed: boolean }>({ max: 1000 })

  constructor(
    private readonly pool: pg.Pool,
    private readonly cacheTtlMs = 5000,
    /** Milliseconds now: the app's clock, so tests can age the cache without waiting. */
    private readonly now: () => number = Date.now,
  ) {}

  async createOrg(orgId: string, name = orgId): Promise<Organization> {
    if (!ORG_ID_PATTERN.test(orgId)) {
      throw new InvalidValueError('an organization id is 1 to 63 lower-case letters, digits, - and _, starting with a letter or digit')
    }
    checkName('an organization name', name)
    const { rows } = await this.pool.query(
      `INSERT INTO organizations (org_id, name, jwt_secret) VALUES ($1, $2, $3) RETURNING *`,
      [orgId, name, randomBytes(32).toString('base64url')],
    )
    this.orgCache.delete(orgId)
    return toOrg(rows[0])
  }

  async listOrgs(): Promise<Organization[]> {
    const { rows } = await this.pool.query('SELECT * FROM organizations ORDER BY org_id')
    return rows.map(toOrg)
  }

  async getOrg(orgId: string): Promise<Organization | null> {
    const cached = this.orgCache.get(orgId)
    if (cached && this.now() - cached.at < this.cacheTtlMs) return cached.org
    let rows
    try {
      rows = (await this.pool.query('SELECT * FROM organizations WHERE org_id = $1', [orgId])).rows
    } catch (err) {
      if (cached && isDatabaseUnavailable(err)) return cached.org
      throw err
    }
    if (!rows[0]) {
      this.orgCache.delete(orgId)
      return null
    }
    const org = toOrg(rows[0])
    this.orgCache.set(orgId, { at: this.now(), org })
    return org
  }

  /**
   * True when some organization names `origin` among its allowed origins explicitly (not by
   * allowing any origin): what a request without a token must show before a visitor id kept in
   * a cookie is disclosed to a page of that origin.
   */
  async originListedByAnyOrg(origin: string): Promise<boolean> {
    const cached = this.originCache.get(origin)
    if (cached && this.now() - cached.at < this.cacheTtlMs) return cached.allowed
    try {
      const { rowCount } = await this.pool.query('SELECT 1 FROM organizations WHERE $1 = ANY(allowed_origins) LIMIT 1', [origin])
      const allowed = (rowCount ?? 0) > 0
      this.originCache.set(origin, { at: this.now(), allowed })
      return allowed
    } catch (err) {
      if (isDatabaseUnavailable(err)) return cached?.allowed ?? false
      throw err
    }
  }

  async updateOrg(
    orgId: string,
    changes: { name?: string; allowedOrigins?: string[] | null; jwtPublicKeys?: string[]; settings?: Record<string, unknown> },
  ): Promise<Organization> {
    if (changes.name !== undefined) checkName('an organization name', changes.name)
    const { rows } = await this.pool.query(
      `UPDATE organizations SET
         name = coalesce($6, name),
         allowed_origins = CASE WHEN $2 THEN $3::text[] ELSE allowed_origins END,
         jwt_public_keys = coalesce($4::jsonb, jwt_public_keys),
         settings = settings || coalesce($5::jsonb, '{}')
       WHERE org_id = $1 RETURNING *`,
      [
        orgId,
        changes.allowedOrigins !== undefined,
        changes.allowedOrigins ?? null,
        changes.jwtPublicKeys ? JSON.stringify(changes.jwtPublicKeys) : null,
        changes.settings ? JSON.stringify(changes.settings) : null,
        changes.name ?? null,
      ],
    )
    if (!rows[0]) throw new NotFoundError(`no organization ${orgId}`)
    this.orgCache.delete(orgId)
    return toOrg(rows[0])
  }

  async createKey(options: {
    orgId: string
    privileges: Privilege[]
    name?: string
    platformOrgs?: string[] | null
  }): Promise<CreatedKey> {
    checkName('a key name', options.name ?? '')
    const keyId = randomBytes(8).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    await this.pool.query(
      `INSERT INTO api_keys (org_id, key_id, name, secret_hash, privileges, platform_orgs)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [options.orgId, keyId, options.name ?? '', hashSecret(secret), options.privileges, options.platformOrgs ?? null],
    )
    return { id: keyId, key: `st_${keyId}_${secret}`, org: options.orgId, privileges: options.privileges }
  }

  async listKeys(orgId: string): Promise<ApiKeyRecord[]> {
    const { rows } = await this.pool.query('SELECT * FROM api_keys WHERE org_id = $1 ORDER BY created_at', [orgId])
    return rows.map((r) => toKey(r))
  }

  async revokeKey(keyId: string): Promise<ApiKeyRecord> {
    const { rows } = await this.pool.query(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING *',
      [keyId],
    )
    this.keyCache.delete(keyId)
    if (!rows[0]) throw new NotFoundError(`no key ${keyId}`)
    return toKey(rows[0])
  }

  /** True while the key exists and is not revoked (within the cache's lifetime). */
  async isKeyActive(keyId: string): Promise<boolean> {
    const record = await this.lookupKey(keyId)
    return record !== null && !record.key.revokedAt
  }

  /** The key if `token` is a well-formed, known, unrevoked API key whose secret matches; else null. */
  async verifyApiKey(token: string): Promise<ApiKeyRecord | null> {
    const parsed = parseApiKey(token)
    if (!parsed) return null
    return this.verifyKeySecret(parsed.keyId, parsed.secret)
  }

  /** Same check from the two halves (Inbenta-style clients send the public id and secret apart). */
  async verifyKeySecret(keyId: string, secret: string): Promise<ApiKeyRecord | null> {
    const record = await this.lookupKey(keyId)
    if (!record || record.key.revokedAt) return null
    // Constant-time compare of fixed-length hashes: the time does not tell how much matched.
    if (!timingSafeEqual(record.secretHash, hashSecret(secret))) return null
    return record.key
  }

  private async lookupKey(keyId: string): Promise<CachedKey | null> {
    const cached = this.keyCache.get(keyId)
    if (cached && this.now() - cached.at < this.cacheTtlMs) return cached.record
    let rows
    try {
      rows = (await this.pool.query('SELECT * FROM api_keys WHERE key_id = $1', [keyId])).rows
    } catch (err) {
      if (cached && isDatabaseUnavailable(err)) return cached.record
      throw err
    }
    if (!rows[0]) {
      this.keyCache.delete(keyId)
      return null
    }
    const key = toKey(rows[0])
    // Frozen: every request of this key shares the one record.
    const record = { key: Object.freeze(key), secretHash: rows[0].secret_hash as Buffer }
    this.keyCache.set(keyId, { at: this.now(), record })
    return record
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toOrg(row: any): Organization {
  return {
    orgId: row.org_id,
    name: row.name,
    jwtSecret: row.jwt_secret,
    jwtPublicKeys: row.jwt_public_keys,
    allowedOrigins: row.allowed_origins,
    settings: row.settings,
    createdAt: row.created_at,
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toKey(row: any): ApiKeyRecord {
  return {
    keyId: row.key_id,
    orgId: row.org_id,
    name: row.name,
    privileges: row.privileges,
    platformOrgs: row.platform_orgs,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  }
}
