import fp from 'fastify-plugin'
import type pg from 'pg'
import { createPool } from '../store/client.js'
import type { Config } from '../config.js'
import { reportApi } from './http/api.js'
import { coveoStats } from './coveo-stats.js'
import { ReportMaintenance } from './maintenance/worker.js'

export interface ReportsRuntime {
  /** Report reads: read-only sessions with a statement timeout, never the writer's pool. */
  readPool: pg.Pool
  /** Raw exports hold a connection for as long as the client reads. */
  exportPool: pg.Pool
  maintenance: ReportMaintenance | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    reports: ReportsRuntime
  }
}

export interface ReportsOptions {
  config: Config
  databaseUrl: string
}

/**
 * The read side: the reports API under /api/v1, Coveo's stats routes, and the maintenance worker
 * that keeps report facts and tiles current. It has connections of its own, so neither a slow
 * report nor the worker can hold a connection an acknowledgement waits for.
 */
export const reportsPlugin = fp<ReportsOptions>(
  async (app, { config, databaseUrl }) => {
    const log = app.log.child({ component: 'reports' })
    const options = `-c default_transaction_read_only=on -c statement_timeout=${config.REPORTS_STATEMENT_TIMEOUT_MS} -c TimeZone=UTC`
    const lost = (err: Error) => log.warn({ err }, 'idle report connection lost')
    const readPool = createPool({ connectionString: databaseUrl, max: config.REPORTS_READ_POOL, options, application_name: 'searchtrack-reads' }, lost)
    const exportPool = createPool({ connectionString: databaseUrl, max: 2, options: '-c default_transaction_read_only=on -c TimeZone=UTC', application_name: 'searchtrack-export' }, lost)
    const maintenance = config.REPORTS_MAINTENANCE
      ? new ReportMaintenance({
          databaseUrl,
          log: app.log.child({ component: 'report-maintenance' }),
          chunkEvents: config.REPORTS_CHUNK_EVENTS,
          idleMs: config.REPORTS_IDLE_MS,
          restRatio: config.REPORTS_REST_RATIO,
          tilesPerStep: 48,
          rebuildSeconds: config.REPORTS_TILE_REBUILD_SECONDS,
        })
      : undefined
    const runtime: ReportsRuntime = { readPool, exportPool, maintenance }
    app.decorate('reports', runtime)

    await app.register(reportApi(runtime), { prefix: '/api/v1' })
    await app.register(coveoStats(runtime))

    app.addHook('onReady', async () => maintenance?.start())
    app.addHook('onClose', async () => {
      await maintenance?.stop()
      await readPool.end()
      await exportPool.end()
    })
  },
  { name: 'reports', dependencies: ['store', 'auth'] },
)
