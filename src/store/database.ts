import type { FastifyBaseLogger as Logger } from 'fastify'
import type { Config } from '../config.js'
import { startEmbeddedPostgres } from './embedded.js'

export interface Database {
  url: string
  embedded: boolean
  /** True when this process started the embedded database (and stop() stops it). */
  started: boolean
  /** Stops the embedded database if this process started it; otherwise does nothing. */
  stop(): Promise<void>
}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL in DATA_DIR: the one already running
 * there, or one started now (and stopped by stop()).
 */
export async function openDatabase(config: Config, log: Logger, role: 'service' | 'admin' = 'service'): Promise<Database> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL, embedded: false, started: false, stop: async () => {} }
  const embedded = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, log.child({ component: 'embedded-postgres' }))
  // An admin command beside a running service uses its database: that is the normal case. A
  // service finding one already running was not stopped by the last process (kill -9).
  if (embedded.reused && role === 'service') {
    log.warn({ dataDir: config.DATA_DIR }, 'embedded postgres was already running on this data directory; using it (it stays running when the service stops)')
  }
  return { url: embedded.url, embedded: true, started: !embedded.reused, stop: embedded.stop }
}
