import path from 'node:path'
import fp from 'fastify-plugin'
import pg from 'pg'
import type { Config } from '../config.js'
import { systemClock, type Clock } from '../events/event.js'
import { Metrics } from '../ops/metrics.js'
import { EventWriter } from './writer.js'
import { Spool } from './spool.js'
import { ensurePartitions } from './partitions.js'

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
  clock?: Clock
}

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * The pg pool, the group-commit writer, its outage spool and the metrics they report to. Closes
 * in order on shutdown: the writer flushes what it holds (to the database, or to the spool when
 * the database is gone), then the spool and the pool close.
 */
export const storePlugin = fp<StoreOptions>(
  async (app, { config, databaseUrl, clock = systemClock }) => {
    const log = app.log.child({ component: 'store' })
    const db = new pg.Pool({ connectionString: databaseUrl, max: config.PG_POOL_MAX, connectionTimeoutMillis: 5000 })
    // An idle client that loses its connection (database restart) emits 'error'; without a
    // listener that would crash the process. The pool replaces the client on next use.
    db.on('error', (err) => log.warn({ err }, 'idle database connection lost'))

    const metrics = new Metrics()
    const spool = await Spool.open({
      dir: path.join(config.DATA_DIR, 'spool'),
      maxBytes: config.SPOOL_MAX_BYTES,
      segmentBytes: config.SPOOL_SEGMENT_BYTES,
      log: app.log.child({ component: 'spool' }),
    })
    const writer = new EventWriter(db, {
      windowMs: config.BATCH_WINDOW_MS,
      maxBatchEvents: config.BATCH_MAX_EVENTS,
      concurrency: config.WRITER_CONCURRENCY,
      visitTimeoutMinutes: config.VISIT_TIMEOUT_MINUTES,
      log: app.log.child({ component: 'writer' }),
      metrics,
      maxQueuedEvents: config.MAX_QUEUED_EVENTS,
      spool,
      spoolRetryMs: config.SPOOL_RETRY_MS,
    })

    app.decorate('db', db)
    app.decorate('writer', writer)
    app.decorate('metrics', metrics)
    app.decorate('clock', clock)

    // Partitions for this month and the next two, then once a day; a failure here is logged,
    // never fatal (the default partition takes the rows).
    const keepPartitions = () =>
      ensurePartitions(db, clock(), 2, log).catch((err: unknown) => log.warn({ err }, 'partition upkeep failed'))
    app.addHook('onReady', async () => {
      await keepPartitions()
      // A spool left by a previous run (a crash, an outage at shutdown) goes to the database now.
      writer.startReplay()
    })
    const timer = setInterval(keepPartitions, DAY_MS).unref()

    app.addHook('onClose', async () => {
      clearInterval(timer)
      await writer.close()
      await spool.close()
      await db.end()
    })
  },
  { name: 'store' },
)
