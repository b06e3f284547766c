import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { pino, type Logger } from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from './config.js'
import { openDatabase } from './store/database.js'
import { createPool } from './store/client.js'
import { migrate } from './store/migrate.js'
import { Spool } from './store/spool.js'
import { KeyStore } from './auth/keys.js'
import { bootstrapDefaultOrg, firstStartMessage, readyMessage } from './bootstrap.js'

/** WORKERS as a number of processes: `auto` is one per core the machine gives this process. */
export function workerCount(config: Pick<Config, 'WORKERS'>): number {
  return config.WORKERS === 'auto' ? availableParallelism() : Number(config.WORKERS)
}

/** This process's worker number in a cluster (1…N), or 0 when it runs alone. */
export function workerNumber(): number {
  return cluster.isWorker ? Number(process.env.SEARCHTRACK_WORKER) : 0
}

/**
 * Each worker spools to a directory of its own (a spool is locked by one process): worker 1, and
 * a service running alone, use DATA_DIR/spool, worker k DATA_DIR/spool-k. A worker started again
 * after a crash gets the same number, so it replays what its predecessor spooled.
 */
export function spoolDir(dataDir: string, worker = workerNumber()): string {
  return path.join(dataDir, worker > 1 ? `spool-${worker}` : 'spool')
}

/**
 * Spools of workers that will not run (WORKERS was lowered, or a cluster's data is now served by
 * one process) are moved into DATA_DIR/spool before any worker starts, so their events are
 * replayed rather than left behind. A spool still locked by a live process is left alone.
 */
export async function adoptOrphanSpools(config: Config, workers: number, log: FastifyBaseLogger | Logger): Promise<void> {
  const names = await readdir(config.DATA_DIR).catch(() => [] as string[])
  const orphans = names.map((n) => /^spool-(\d+)$/.exec(n)).filter((m) => m && Number(m[1]) > workers)
  if (orphans.length === 0) return
  const options = { maxBytes: config.SPOOL_MAX_BYTES, segmentBytes: config.SPOOL_SEGMENT_BYTES, log: log as FastifyBaseLogger }
  const target = await Spool.open({ ...options, dir: spoolDir(config.DATA_DIR, 1) })
  try {
    for (const match of orphans) {
      const dir = path.join(config.DATA_DIR, match![0])
      const orphan = await Spool.open({ ...options, dir }).catch((err: unknown) => {
        log.warn({ err, dir }, 'a spool of another worker is in use; leaving it')
        return null
      })
      if (!orphan) continue
      try {
        const moved = await target.adopt(orphan)
        if (moved > 0) log.warn({ from: dir, segments: moved }, 'spool of a worker that no longer runs: moved to be replayed')
      } finally {
        await orphan.close()
      }
    }
  } finally {
    await target.close()
  }
}

/** How long workers may take to drain on SIGTERM before they are killed. */
const DRAIN_MS = 12_000
/** A worker that dies sooner than this after its start is restarted after a pause, not at once. */
const CRASH_LOOP_MS = 5_000

/**
 * WORKERS=N: this process (the primary) opens the database, migrates it and creates the first
 * organization, then runs N copies of the service sharing one port (Node's cluster module hands
 * each new connection to a worker in turn). A worker that dies is started again, with the same
 * number and so the same spool, which it replays. SIGTERM or SIGINT: every worker is asked to
 * drain (stop accepting, flush what it acknowledged, exit), then the embedded database stops.
 */
export async function runCluster(config: Config, workers: number): Promise<void> {
  const log = pino({ level: config.LOG_LEVEL, base: { pid: process.pid, role: 'primary' } })
  const database = await openDatabase(config, log as unknown as FastifyBaseLogger)
  const pool = createPool({ connectionString: database.url, max: 1 }, (err) => log.warn({ err }, 'database connection lost'))
  try {
    await migrate(pool, log)
    if (config.BOOTSTRAP_DEFAULT_ORG) {
      const created = await bootstrapDefaultOrg(new KeyStore(pool, 0))
      if (created) process.stdout.write(firstStartMessage(created, config) + '\n')
    }
  } finally {
    await pool.end()
  }
  await adoptOrphanSpools(config, workers, log)

  let stopping = false
  const byNumber = new Map<number, Worker>()
  let listening = 0
  const start = (n: number) => {
    const startedAt = Date.now()
    const worker = cluster.fork({
      SEARCHTRACK_WORKER: String(n),
      // The database the primary opened; the workers neither start nor stop it.
      DATABASE_URL: database.url,
      BOOTSTRAP_DEFAULT_ORG: 'false',
    })
    byNumber.set(n, worker)
    worker.once('listening', () => {
      log.info({ worker: n, workerPid: worker.process.pid }, 'worker listening')
      if (++listening === workers) process.stdout.write(readyMessage(config, database, workers) + '\n')
    })
    worker.once('exit', (code, signal) => {
      byNumber.delete(n)
      if (stopping) return
      const early = Date.now() - startedAt < CRASH_LOOP_MS
      log.error({ worker: n, code, signal }, `worker ${n} exited; starting it again${early ? ' in 1 s' : ''}`)
      setTimeout(() => start(n), early ? 1000 : 0)
    })
  }
  for (let n = 1; n <= workers; n++) start(n)

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down: draining every worker')
    const exits = [...byNumber.values()].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))))
    for (const worker of byNumber.values()) worker.process.kill('SIGTERM')
    const killer = setTimeout(() => {
      for (const worker of byNumber.values()) worker.process.kill('SIGKILL')
    }, DRAIN_MS).unref()
    await Promise.all(exits)
    clearTimeout(killer)
    await database.stop()
    log.info(database.started ? 'stopped; the embedded database too' : 'stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}
