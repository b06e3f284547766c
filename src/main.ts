import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import closeWithGrace from 'close-with-grace'
import { loadConfig, ConfigError, type Config } from './config.js'
import { app, serverOptions } from './app.js'
import { openDatabase } from './store/database.js'
import { migrate } from './store/migrate.js'
import { bootstrapDefaultOrg, firstStartMessage, readyMessage } from './bootstrap.js'
import { loadEnvFile } from './env-file.js'
import { limitHeapGrowth } from './heap.js'
import { adoptOrphanSpools, runCluster, workerCount, workerNumber } from './cluster.js'
import cluster from 'node:cluster'

export interface ServeOptions {
  /** Extra plugins registered after the app (tests add a route with them). */
  plugins?: FastifyPluginAsync[]
}

/** Start the service: config, database (embedded or DATABASE_URL), migrations, listen. */
export async function serve(config: Config, options: ServeOptions = {}): Promise<FastifyInstance> {
  const worker = workerNumber()
  const server = Fastify(serverOptions(config))
  const database = await openDatabase(config, server.log)
  // Alone, this process replays what workers of an earlier cluster run left in their spools.
  if (worker === 0) await adoptOrphanSpools(config, 1, server.log)

  await server.register(app, { config, databaseUrl: database.url })
  for (const plugin of options.plugins ?? []) await server.register(plugin)
  // Migrations before ready: the store's onReady hook creates partitions of the events table and
  // replays a spool left by a previous run, both into the current schema.
  await server.after()
  await migrate(server.db, server.log)
  await server.ready()
  if (config.BOOTSTRAP_DEFAULT_ORG) {
    const created = await bootstrapDefaultOrg(server.keys)
    if (created) process.stdout.write(firstStartMessage(created, config) + '\n')
  }

  // SIGTERM/SIGINT: stop accepting, let the writer flush what it acknowledged (to the database, or
  // to the spool if the database is gone), stop the embedded database, exit 0 within 10 s.
  let closing = false
  const grace = closeWithGrace({
    delay: 9_000,
    logger: server.log,
    // A cluster worker leaves the terminal's Ctrl-C to the primary, which asks it to drain.
    skip: worker > 0 ? ['SIGINT'] : [],
    // A second Ctrl-C (npm passes the terminal's on as well) must not cut the flush short; the
    // delay still bounds the close.
    onSecondSignal: (signal) => server.log.info({ signal }, 'already shutting down'),
  }, async ({ signal, err }) => {
    closing = true
    if (err) server.log.error({ err }, 'closing after an error')
    else server.log.info({ signal }, 'shutting down')
    // Requests still arriving after 3 s are bodies trickled in (the others are answered within a
    // batch window): cut them, or they would hold the close past its grace. Nothing of theirs was
    // acknowledged.
    const cut = setTimeout(() => server.server.closeAllConnections(), 3000).unref()
    // The database stops last, after the writer has flushed and the pool has ended (Fastify runs
    // this instance's onClose hooks in no order we could rely on for that).
    await server.close()
    clearTimeout(cut)
    await database.stop()
    server.log.info(database.started ? 'stopped; the embedded database too' : 'stopped')
  })

  if (worker > 0) {
    process.on('SIGINT', () => {})
    // The primary is gone (killed with -9): drain and exit rather than serve on unsupervised.
    process.once('disconnect', () => {
      if (!closing) grace.close()
    })
  }

  await server.listen({ port: config.PORT, host: config.HOST })
  if (worker === 0) process.stdout.write(readyMessage(config, database) + '\n')
  return server
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  limitHeapGrowth()
  let config: Config
  try {
    loadEnvFile()
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`searchtrack: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const workers = workerCount(config)
  const started = cluster.isPrimary && workers > 1 ? runCluster(config, workers) : serve(config)
  started.catch((err: unknown) => {
    // A setting to change (DATA_DIR, a port) is said in one line; anything else with its stack.
    const detail = err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))
    process.stderr.write(`searchtrack: could not start: ${detail}\n`)
    process.exit(1)
  })
}
