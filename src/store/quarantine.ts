import { mkdir, open, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import { waitForLock } from 'fs-native-extensions'
import type pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { TrackedEvent } from '../events/event.js'
import type { Metrics } from '../ops/metrics.js'
import { pgSafeJson } from './event-rows.js'
import { isDatabaseUnavailable, sqlState } from './failures.js'
import { commitAcknowledged } from './writer.js'

export interface QuarantineRecord {
  orgId: string
  eventId: string
  receivedAt: string
  quarantinedAt: string
  sqlstate: string | null
  reason: string
  /** Where it is kept: the `quarantined_events` table, or a file when the database refused that too. */
  store: 'table' | 'file'
  event: TrackedEvent
}

/** The events of a quarantine file, in the order they were set aside. */
export const QUARANTINE_FILE = 'events.ndjson'

/** A spooled event back from JSON (its receipt time as a Date again). */
export function reviveEvent(json: TrackedEvent & { receivedAt: string | Date }): TrackedEvent {
  return { ...json, receivedAt: new Date(json.receivedAt) }
}

/**
 * Where acknowledged events go when the database refuses them for their data at replay (a poison
 * event): set aside whole, with the reason, so the events behind them are not held up. First the
 * `quarantined_events` table; when the database refuses even that, a file in
 * DATA_DIR/quarantine, written and fsynced before the spool segment holding the event is removed.
 */
export class Quarantine {
  constructor(
    private readonly pool: pg.Pool,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
  ) {}

  /** Keep `event`; throws only when it could be kept nowhere (the replay then retries later). */
  async add(event: TrackedEvent, cause: unknown): Promise<'table' | 'file'> {
    const reason = (cause as Error)?.message ?? String(cause)
    const state = sqlState(cause) ?? null
    let store: 'table' | 'file' = 'table'
    try {
      await this.pool.query(
        `INSERT INTO quarantined_events (org_id, event_id, received_at, sqlstate, reason, event)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING`,
        [event.orgId.replaceAll('\u0000', ''), event.eventId, event.receivedAt, state, reason, pgSafeJson(JSON.stringify(event))],
      )
    } catch (err) {
      // The database being gone is no reason to write a file: the replay waits for it.
      if (isDatabaseUnavailable(err)) throw err
      store = 'file'
      await this.appendToFile({ quarantinedAt: new Date().toISOString(), sqlstate: state, reason, event })
    }
    this.log.error({ eventId: event.eventId, orgId: event.orgId, sqlstate: state, reason, store }, 'acknowledged event refused by the database: quarantined')
    this.metrics?.quarantined.inc({ store })
    return store
  }

  private async appendToFile(record: unknown): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await withFileLock(this.dir, async () => {
      const handle = await open(path.join(this.dir, QUARANTINE_FILE), 'a')
      try {
        const line = Buffer.from(JSON.stringify(record) + '\n')
        let written = 0
        while (written < line.length) written += (await handle.write(line, written)).bytesWritten
        await handle.datasync()
      } finally {
        await handle.close()
      }
    })
  }
}

/** Read-side of the quarantine, for the CLI: both stores, oldest first. */
export async function listQuarantine(
  pool: pg.Pool,
  dir: string,
  options: { orgId?: string; eventId?: string; limit?: number } = {},
): Promise<QuarantineRecord[]> {
  const { rows } = await pool.query(
    `SELECT org_id, event_id::text, received_at, quarantined_at, sqlstate, reason, event
     FROM quarantined_events
     WHERE ($1::text IS NULL OR org_id = $1) AND ($2::uuid IS NULL OR event_id = $2)
     ORDER BY quarantined_at, event_id LIMIT $3`,
    [options.orgId ?? null, options.eventId ?? null, options.limit ?? 1000],
  )
  const records: QuarantineRecord[] = rows.map((r) => ({
    orgId: r.org_id,
    eventId: r.event_id,
    receivedAt: (r.received_at as Date).toISOString(),
    quarantinedAt: (r.quarantined_at as Date).toISOString(),
    sqlstate: r.sqlstate,
    reason: r.reason,
    store: 'table' as const,
    event: reviveEvent(r.event),
  }))
  for (const line of await fileLines(dir)) {
    const record = JSON.parse(line) as { quarantinedAt: string; sqlstate: string | null; reason: string; event: TrackedEvent }
    const event = reviveEvent(record.event)
    if (options.orgId && event.orgId !== options.orgId) continue
    if (options.eventId && event.eventId !== options.eventId) continue
    records.push({
      orgId: event.orgId,
      eventId: event.eventId,
      receivedAt: event.receivedAt.toISOString(),
      quarantinedAt: record.quarantinedAt,
      sqlstate: record.sqlstate,
      reason: record.reason,
      store: 'file',
      event,
    })
  }
  return records.slice(0, options.limit ?? 1000)
}

async function fileLines(dir: string): Promise<string[]> {
  const text = await readFile(path.join(dir, QUARANTINE_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return ''
    throw err
  })
  // A torn last line (a crash while it was written) is incomplete JSON: the event is still in the spool.
  return text.split('\n').filter((line) => {
    if (line === '') return false
    try {
      JSON.parse(line)
      return true
    } catch {
      return false
    }
  })
}

/**
 * Appends and rewrites of the quarantine file take an exclusive OS lock on DATA_DIR/quarantine/LOCK
 * (per open file, so it also orders two callers in one process): a rewrite reads the file and
 * renames a new one over it, and a line appended in between — by a cluster worker, by the service
 * while a command re-drives or erases — would otherwise be lost with the old file.
 */
async function withFileLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = await open(path.join(dir, 'LOCK'), 'a+')
  try {
    await waitForLock(lock.fd)
    return await fn()
  } finally {
    await lock.close()
  }
}

/** Rewrite the quarantine file without the events given (after they were re-driven, or erased). */
export async function dropFromFile(dir: string, eventIds: ReadonlySet<string>): Promise<void> {
  if (eventIds.size === 0) return
  await mkdir(dir, { recursive: true })
  await withFileLock(dir, async () => {
    const lines = await fileLines(dir)
    const kept = lines.filter((line) => !eventIds.has((JSON.parse(line) as { event: { eventId: string } }).event.eventId))
    if (kept.length === lines.length) return
    const file = path.join(dir, QUARANTINE_FILE)
    const temp = `${file}.tmp`
    const handle = await open(temp, 'w')
    try {
      await handle.write(kept.map((l) => l + '\n').join(''))
      await handle.datasync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  })
}

export interface RedriveResult {
  stored: string[]
  /** Still refused, with the database's reason; they stay in the quarantine. */
  refused: Array<{ eventId: string; reason: string }>
}

/**
 * Try quarantined events again (after the cause was fixed: a column widened, a trigger dropped),
 * each in a transaction of its own, exactly as a replay would store it (idempotent, with the
 * visit it was acknowledged with). Stored ones leave the quarantine; the rest stay.
 */
export async function redriveQuarantine(
  pool: pg.Pool,
  dir: string,
  visitTimeoutMinutes: number,
  options: { orgId?: string; eventId?: string } = {},
): Promise<RedriveResult> {
  const records = await listQuarantine(pool, dir, { ...options, limit: 100_000 })
  const result: RedriveResult = { stored: [], refused: [] }
  const fromFile = new Set<string>()
  for (const record of records) {
    try {
      await commitAcknowledged(pool, [record.event], visitTimeoutMinutes)
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err
      result.refused.push({ eventId: record.eventId, reason: (err as Error).message })
      continue
    }
    result.stored.push(record.eventId)
    if (record.store === 'file') fromFile.add(record.eventId)
    else {
      await pool.query('DELETE FROM quarantined_events WHERE org_id = $1 AND event_id = $2 AND received_at = $3', [
        record.orgId, record.eventId, new Date(record.receivedAt),
      ])
    }
  }
  if (fromFile.size > 0) await dropFromFile(dir, fromFile)
  return result
}
