import pg from 'pg'
import type { FastifyBaseLogger as Logger } from 'fastify'
import { applyChunk, SETUP_SQL } from './facts.js'
import { buildTiles, TILES_SETUP_SQL } from './tiles.js'
import { sessionOptions } from '../../store/client.js'

export interface MaintenanceOptions {
  databaseUrl: string
  log: Logger
  /** Events per transaction: bounds the work (and the locks) of one step. */
  chunkEvents: number
  /** Pause between cycles when there is nothing to do. */
  idleMs: number
  /** Time spent resting after a busy step, as a fraction of the step's time: leaves the database to ingest. */
  restRatio: number
  /** Hours rebuilt per step, and how soon a rebuilt hour may be rebuilt again. */
  tilesPerStep: number
  rebuildSeconds: number
}

// Any constant works; every instance uses the same one.
const LEASE_KEY = 7_405_112_060

export interface CycleStats {
  events: number
  tiles: number
  ms: number
}

/**
 * The report maintenance worker: one per process, and one active per database, the holder of a
 * session advisory lock (the lease). The other instances' workers wait to take over; a holder that
 * dies loses its connection and with it the lease. Its own connection, never the writer's pool:
 * it cannot take a connection an acknowledgement waits for.
 */
export class ReportMaintenance {
  private client: pg.Client | undefined
  private leased = false
  private stopping = false
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private running: Promise<unknown> = Promise.resolve()
  lastCycle: CycleStats | undefined

  constructor(private readonly options: MaintenanceOptions) {}

  get holdsLease(): boolean {
    return this.leased
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.options.log.error({ err }, 'report maintenance stopped'))
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.wake?.()
    await this.loop
    await this.running.catch(() => {})
    await this.disconnect()
  }

  /**
   * Run steps until the queue is empty and no hour waits for its tile (tests and the CLI-free
   * paths use it). Only a lease holder can: returns false when another instance holds the lease.
   */
  async drain(options: { tiles?: boolean; rebuildSeconds?: number } = {}): Promise<boolean> {
    const run = this.running.then(async () => {
      const client = await this.connect()
      if (!(await this.lease(client))) return false
      for (;;) {
        const { taken } = await applyChunk(client, this.options.chunkEvents)
        if (taken < this.options.chunkEvents) break
      }
      if (options.tiles !== false) {
        while ((await buildTiles(client, this.options.tilesPerStep, options.rebuildSeconds ?? this.options.rebuildSeconds)) > 0) {
          /* until every dirty, ended hour is rebuilt */
        }
      }
      return true
    })
    this.running = run.catch(() => {})
    return run
  }

  private async run(): Promise<void> {
    let lastTiles = 0
    while (!this.stopping) {
      let rest = this.options.idleMs
      try {
        const step = this.running.then(async () => {
          const client = await this.connect()
          if (!(await this.lease(client))) return null
          const started = performance.now()
          const { taken } = await applyChunk(client, this.options.chunkEvents)
          let tiles = 0
          // Tiles when caught up, and at least every 30 s during a backlog.
          if (taken < this.options.chunkEvents || Date.now() - lastTiles > 30_000) {
            tiles = await buildTiles(client, this.options.tilesPerStep, this.options.rebuildSeconds)
            lastTiles = Date.now()
          }
          const ms = performance.now() - started
          this.lastCycle = { events: taken, tiles, ms }
          return { busy: taken >= this.options.chunkEvents || tiles >= this.options.tilesPerStep, ms }
        })
        this.running = step.catch(() => {})
        const result = await step
        if (result?.busy) rest = result.ms * this.options.restRatio
      } catch (err) {
        this.options.log.warn({ err }, 'report maintenance step failed; retrying')
        await this.disconnect()
        rest = Math.max(rest, 1000)
      }
      await this.sleep(rest)
    }
  }

  private async lease(client: pg.Client): Promise<boolean> {
    if (this.leased) return true
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEASE_KEY])
    this.leased = rows[0]!.ok
    if (this.leased) this.options.log.info('report maintenance lease taken')
    return this.leased
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'searchtrack-reports', options: sessionOptions() })
    client.on('error', (err) => this.options.log.warn({ err }, 'report maintenance connection lost'))
    await client.connect()
    await client.query(SETUP_SQL)
    await client.query(TILES_SETUP_SQL)
    this.client = client
    return client
  }

  private async disconnect(): Promise<void> {
    const client = this.client
    this.client = undefined
    this.leased = false
    await client?.end().catch(() => {})
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
    })
  }
}
