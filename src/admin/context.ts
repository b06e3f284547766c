import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { Config } from '../config.js'
import { openDatabase, type Database } from '../store/database.js'
import { migrate, type MigrationResult } from '../store/migrate.js'
import { createPool } from '../store/client.js'
import { KeyStore } from '../auth/keys.js'
import { Authenticator, type SearchTokenClaims } from '../auth/principal.js'
import { DataKeyStore } from '../protocols/inbenta/priorities.js'

/**
 * What admin commands need, and nothing more: a small pool, the key store, the Inbenta data-key
 * store, migrations and search-token signing. No writer, no spool, no HTTP server: the spool
 * belongs to the one service process of a DATA_DIR, so a command built on the whole app could not
 * run beside it. On the embedded database this uses the running service's cluster (found from
 * DATA_DIR); when none runs, it starts the cluster and stops it again on close.
 */
export interface AdminContext {
  db: pg.Pool
  keys: KeyStore
  dataKeys: DataKeyStore
  migrate(): Promise<MigrationResult>
  signSearchToken(orgId: string, claims: SearchTokenClaims, validForSeconds: number): Promise<string>
  close(): Promise<void>
}

export async function openAdminContext(config: Config, log: Logger): Promise<AdminContext> {
  const database = await openDatabase(config, log, 'admin')
  const db = createPool({ connectionString: database.url, max: 2, connectionTimeoutMillis: 5000 }, (err) => log.warn({ err }, 'database connection lost'))
  // Caching would only hide changes made by the service meanwhile: commands are one-shot.
  const keys = new KeyStore(db, 0)
  let closing: Promise<void> | undefined
  return {
    db,
    keys,
    dataKeys: new DataKeyStore(db),
    migrate: () => migrate(db, log),
    async signSearchToken(orgId, claims, validForSeconds) {
      // The service's own signer (@fastify/jwt on a bare instance), loaded only for this command.
      const [{ default: Fastify }, { default: fastifyJwt }] = await Promise.all([import('fastify'), import('@fastify/jwt')])
      const signer = Fastify()
      await signer.register(fastifyJwt, { secret: randomBytes(32) })
      await signer.ready()
      try {
        return await new Authenticator(keys, signer.jwt).signSearchToken(orgId, claims, validForSeconds)
      } finally {
        await signer.close()
      }
    },
    close() {
      closing ??= db.end().then(() => stopUnlessShared(database, log))
      return closing
    },
  }
}

/**
 * Stop the embedded cluster this command started, unless a service has connected to it meanwhile
 * (it was started while the command ran and took this cluster over): then it stays up for it.
 */
async function stopUnlessShared(database: Database, log: Logger): Promise<void> {
  if (!database.started) return
  const client = new pg.Client({ connectionString: database.url })
  const others = await client
    .connect()
    .then(() => client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`))
    .then((r) => r.rows[0]!.n, () => 0)
    .finally(() => client.end().catch(() => {}))
  if (others > 0) log.info('the embedded database has other clients now; leaving it running')
  else await database.stop()
}
