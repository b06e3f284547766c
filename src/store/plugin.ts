import path from 'node:path'
import { spoolDir } from '../cluster.js'
import fp from 'fastify-plugin'
import type pg from 'pg'
import { createPool } from './client.js'
import type { Config } from '../config.js'
import type { Clock } from '../events/event.js'
import { Metrics } from '../ops/metrics.js'
import { EventWriter } from './writer.js'
import { Spool } from './spool.js'
import { Quarantine } from './quarantine.js'
import { ensurePartitions } from './partitions.js'
import { expireIdempotencyKeys } from './idempotency.js'
import { DatabaseClock } from './database-clock.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: pg.Pool
    writer: EventWriter
    metrics: Metrics
    clock: Clock
  }
}

export interface StoreOptions {
  config: Config
  databaseUrl: string
  /** A clock that replaces the database's (tests that move time by hand). */
  clock?: Clock
  /** The machine's clock the database clock corrects (tests give a wrong one). */
  machineTime?: () => number
}

const DAY_MS = 24 * 60 * 60 * 1000
/** Machine clocks drift by milliseconds a minute at worst, and NTP can step them at any time. */
const CLOCK_SYNC_MS = 60_000

/**
 * The pg pool, the group-commit writer, its outage spool and the metrics they report to. Closes
 * in order on shutdown: the writer flushes what it holds (to the database, or to the spool when
 * the database is gone), then the spool and the pool close.
 */
export const storePlugin = fp<StoreOptions>(
  async (app, { config, databaseUrl, clock: givenClock, machineTime }) => {
    const log = app.log.child({ component: 'store' })
    // An idle client that loses its connection (database restart) emits 'error': logged, and the
    // pool replaces the client on next use.
    const db = createPool({ connectionString: databaseUrl, max: config.PG_POOL_MAX, connectionTimeoutMillis: 5000 }, (err) =>
      log.warn({ err }, 'idle database connection lost'),
    )
    // The writer's own connections: one per concurrent batch, one for the spool's replay. It never
    // waits for a client, so a connect timeout there means the database cannot be reached — never
    // that requests saturate the shared pool (which would start spooling with the database up).
    const writerPool = createPool({ connectionString: databaseUrl, max: config.WRITER_CONCURRENCY + 1, connectionTimeoutMillis: 5000 }, (err) =>
      log.warn({ err }, 'idle database connection of the writer lost'),
    )

    const metrics = new Metrics()
    // Receipt times are read on the database's clock, so that every instance stamps on one clock.
    const databaseClock = givenClock ? undefined : new DatabaseClock(machineTime)
    const clock = givenClock ?? databaseClock!.now
    const synchronizeClock = async () => {
      if (!databaseClock) return
      try {
        await databaseClock.synchronize(db)
        metrics.clockOffset.set(databaseClock.offset / 1000)
      } catch (err) {
        log.warn({ err, offsetMs: databaseClock.offset }, 'could not read the database clock; receipt times keep the last offset measured')
      }
    }
    const spool = await Spool.open({
      dir: spoolDir(config.DATA_DIR),
      maxBytes: config.SPOOL_MAX_BYTES,
      segmentBytes: config.SPOOL_SEGMENT_BYTES,
      log: app.log.child({ component: 'spool' }),
    })
    const quarantine = new Quarantine(writerPool, path.join(config.DATA_DIR, 'quarantine'), app.log.child({ component: 'quarantine' }), metrics)
    const writer = new EventWriter(writerPool, {
      windowMs: config.BATCH_WINDOW_MS,
      maxBatchEvents: config.BATCH_MAX_EVENTS,
      concurrency: config.WRITER_CONCURRENCY,
      visitTimeoutMinutes: config.VISIT_TIMEOUT_MINUTES,
      log: app.log.child({ component: 'writer' }),
      metrics,
      maxQueuedEvents: config.MAX_QUEUED_EVENTS,
      spool,
      quarantine,
      spoolRetryMs: config.SPOOL_RETRY_MS,
    })

    app.decorate('db', db)
    app.decorate('writer', writer)
    app.decorate('metrics', metrics)
    app.decorate('clock', clock)

    // Partitions for this month and the next two, then once a day, with old idempotency keys
    // forgotten; a failure here is logged, never fatal (the default partition takes the rows).
    const upkeep = async () => {
      await ensurePartitions(db, clock(), 2, log).catch((err: unknown) => log.warn({ err }, 'partition upkeep failed'))
      await expireIdempotencyKeys(db, clock()).catch((err: unknown) => log.warn({ err }, 'idempotency key upkeep failed'))
    }
    app.addHook('onReady', async () => {
      await synchronizeClock()
      await upkeep()
      // A spool left by a previous run (a crash, an outage at shutdown) goes to the database now.
      writer.startReplay()
    })
    const timer = setInterval(() => void upkeep(), DAY_MS).unref()
    const clockTimer = setInterval(() => void synchronizeClock(), CLOCK_SYNC_MS).unref()

    app.addHook('onClose', async () => {
      clearInterval(timer)
      clearInterval(clockTimer)
      await writer.close()
      await spool.close()
      await Promise.all([db.end(), writerPool.end()])
    })
  },
  { name: 'store' },
)
