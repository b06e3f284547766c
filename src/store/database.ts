import type { FastifyBaseLogger as Logger } from 'fastify'
import type { Config } from '../config.js'
import { startEmbeddedPostgres } from './embedded.js'

export interface Database {
  url: string
  embedded: boolean
  stop(): Promise<void>
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL in DATA_DIR, started on demand. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL, embedded: false, stop: async () => {} }
  const embedded = await startEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT, log.child({ component: 'embedded-postgres' }))
  return { url: embedded.url, embedded: true, stop: embedded.stop }
}
