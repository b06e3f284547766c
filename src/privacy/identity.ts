import { createHmac, hkdfSync } from 'node:crypto'
import type pg from 'pg'
import type { TrackedEvent } from '../events/event.js'
import { maskIp } from '../events/enrich.js'
import type { KeyStore } from '../auth/keys.js'
import { isDatabaseUnavailable } from '../store/failures.js'
import { DEFAULT_SETTINGS, readSettings, type PrivacySettings } from './settings.js'

/** What applies to an org whose controls cannot be read (the database away, nothing cached). */
const STRICTEST: PrivacySettings = { rawDays: null, rollupDays: null, anonymous: true, ipPolicy: 'none', userPolicy: 'drop' }

/** How long an org's identity controls are cached: a change applies within this time. */
export const IDENTITY_CACHE_MS = 5000

interface OrgIdentity {
  settings: PrivacySettings
  /** HMAC key for the `hash` policies, derived from the org's secret (never stored). */
  key: Buffer | null
  loadedAt: number
}

function digest(key: Buffer, kind: string, value: string): string {
  // 128 bits: stable per value within an org, not reversible without the org's secret.
  return `h:${createHmac('sha256', key).update(`${kind}:${value}`).digest('hex').slice(0, 32)}`
}

/**
 * Apply an org's identity controls to one event, in place. Runs in the writer before an event is
 * queued, so before anything of it is stored or spooled; protocols hand the writer the client's
 * full address, and this is where it is masked (the default), dropped or replaced by a digest.
 * The user as visitor (App Search, Workplace, a token's user) is treated as the user.
 */
export function applyIdentity(e: TrackedEvent, settings: PrivacySettings, key: Buffer | null): void {
  if (settings.ipPolicy === 'none' || (settings.ipPolicy === 'hash' && !key)) e.clientIp = null
  else if (settings.ipPolicy === 'hash' && key) e.clientIp = e.clientIp ? digest(key, 'ip', e.clientIp) : null
  else e.clientIp = maskIp(e.clientIp)

  const user = e.username ?? null
  if (settings.anonymous || settings.userPolicy === 'drop') {
    if (user !== null && e.visitorId === user) e.visitorId = null
    e.username = null
    e.userDisplayName = null
    if (settings.anonymous) e.anonymous = true
    // Inbenta's user information (POST /tracking/session/user) is the user's identity itself.
    if (e.protocol === 'inbenta' && e.eventType === 'USER_INFO') e.customData = null
  } else if (settings.userPolicy === 'hash' && user !== null && !key) {
    // No key to digest with (the org's secret could not be read): dropped rather than kept.
    if (e.visitorId === user) e.visitorId = null
    e.username = null
    e.userDisplayName = null
  } else if (settings.userPolicy === 'hash' && user !== null && key) {
    const hashed = digest(key, 'user', user)
    if (e.visitorId === user) e.visitorId = hashed
    e.username = hashed
    e.userDisplayName = null
  }
}

/** The writer's identity hook: each org's controls, cached, applied to every event. */
export class IdentityControls {
  private readonly cache = new Map<string, OrgIdentity>()
  /** One read per org at a time, however many requests wait for it. */
  private readonly loading = new Map<string, Promise<void>>()

  constructor(
    private readonly db: pg.Pool,
    private readonly keys: KeyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Synchronous when every org of the events is cached (the usual case): no promise per request. */
  apply = (events: TrackedEvent[]): void | Promise<void> => {
    let missing: Set<string> | undefined
    const now = this.now()
    for (const e of events) {
      const cached = this.cache.get(e.orgId)
      if (!cached || now - cached.loadedAt > IDENTITY_CACHE_MS) (missing ??= new Set()).add(e.orgId)
    }
    if (!missing) return this.applyCached(events)
    return Promise.all([...missing].map((org) => this.loadOnce(org))).then(() => this.applyCached(events))
  }

  /** Forget an org's cached controls (after changing them in this process). */
  forget(orgId: string): void {
    this.cache.delete(orgId)
  }

  private applyCached(events: TrackedEvent[]): void {
    for (const e of events) {
      const org = this.cache.get(e.orgId)
      applyIdentity(e, org?.settings ?? DEFAULT_SETTINGS, org?.key ?? null)
    }
  }

  private loadOnce(orgId: string): Promise<void> {
    let pending = this.loading.get(orgId)
    if (!pending) {
      pending = this.load(orgId).finally(() => this.loading.delete(orgId))
      this.loading.set(orgId, pending)
    }
    return pending
  }

  private async load(orgId: string): Promise<void> {
    let settings: PrivacySettings
    let key: Buffer | null = null
    try {
      settings = await readSettings(this.db, orgId)
      if (settings.ipPolicy === 'hash' || settings.userPolicy === 'hash') {
        const org = await this.keys.getOrg(orgId)
        if (org) key = Buffer.from(hkdfSync('sha256', org.jwtSecret, orgId, 'searchtrack identity digests', 32))
      }
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err
      // The database is away (events go to the spool): the controls last read, else the strictest
      // ones — an org's events are never stored with more identity than it allows. Asked again
      // after a second rather than at every request (each attempt waits for a connection).
      const stale = this.cache.get(orgId)
      this.cache.set(orgId, { settings: stale?.settings ?? STRICTEST, key: stale?.key ?? null, loadedAt: this.now() - IDENTITY_CACHE_MS + 1000 })
      return
    }
    this.cache.set(orgId, { settings, key, loadedAt: this.now() })
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!)
  }
}
