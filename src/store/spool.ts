import { mkdir, open, readdir, readFile, rm, stat, writeFile, appendFile, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import path from 'node:path'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { TrackedEvent } from '../events/event.js'

export interface SpoolOptions {
  dir: string
  /** Bytes of unreplayed records the spool may hold; past it appends fail with SpoolFullError. */
  maxBytes: number
  /** A segment is closed and a new one started past this size (replayed segments are deleted whole). */
  segmentBytes: number
  log: Logger
}

/** The spool has no room left: the request must be refused (503) rather than acknowledged. */
export class SpoolFullError extends Error {
  override name = 'SpoolFullError'
  constructor() {
    super('the outage spool is full')
  }
}

export class SpoolLockedError extends Error {
  override name = 'SpoolLockedError'
}

export interface Segment {
  file: string
  bytes: number
}

interface QueuedRecord {
  line: Buffer
  resolve: () => void
  reject: (err: Error) => void
}

const SEGMENT = /^segment-(\d{12})\.log$/
const segmentName = (seq: number) => `segment-${String(seq).padStart(12, '0')}.log`

// One process owns a spool directory at a time. Spools opened by this process are known here;
// two apps in one process would interleave segments.
const openedHere = new Set<string>()

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Durable local spool for events that could not reach the database. Append-only segment files of
 * one line per batch, `<crc32 hex> <json>\n`; an append resolves only after fdatasync, so an
 * acknowledged event survives kill -9 and power loss. Concurrent appends share one write and one
 * sync (group commit, as the database writer does). A torn last line (a crash mid-write, never
 * acknowledged) fails its checksum and is skipped at replay.
 */
export class Spool {
  private sealed: Segment[] = []
  private active: { file: string; handle: FileHandle; bytes: number } | undefined
  private nextSeq = 1
  private queue: QueuedRecord[] = []
  private queuedBytes = 0
  private writing: Promise<void> | undefined
  private closed = false
  private appendsInFlight = 0
  private idleWaiters: Array<() => void> = []
  /** An append was refused for want of room, and no replay has freed any since. */
  full = false

  private constructor(private readonly options: SpoolOptions) {}

  static async open(options: SpoolOptions): Promise<Spool> {
    await mkdir(options.dir, { recursive: true })
    const spool = new Spool(options)
    await spool.lock()
    const names = (await readdir(options.dir)).filter((n) => SEGMENT.test(n)).sort()
    for (const name of names) {
      const file = path.join(options.dir, name)
      const { size } = await stat(file)
      if (size === 0) await rm(file, { force: true })
      else spool.sealed.push({ file, bytes: size })
      spool.nextSeq = Math.max(spool.nextSeq, Number(SEGMENT.exec(name)![1]) + 1)
    }
    if (spool.sealed.length > 0) {
      options.log.warn({ segments: spool.sealed.length, bytes: spool.bytes }, 'spool holds events from a previous run; replaying')
    }
    return spool
  }

  private get lockFile(): string {
    return path.join(this.options.dir, 'LOCK')
  }

  private async lock(): Promise<void> {
    const dir = path.resolve(this.options.dir)
    if (openedHere.has(dir)) throw new SpoolLockedError(`spool directory ${dir} is already open in this process`)
    try {
      await writeFile(this.lockFile, String(process.pid), { flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = Number((await readFile(this.lockFile, 'utf8').catch(() => '')).trim())
      // Our own pid in the file is a previous process's (a container restarted after a crash
      // runs as PID 1 again): the spool is ours, as is one whose owner has died (kill -9).
      if (owner > 0 && owner !== process.pid && pidAlive(owner)) {
        throw new SpoolLockedError(`spool directory ${dir} is in use by process ${owner}; give each instance its own DATA_DIR`)
      }
      await writeFile(this.lockFile, String(process.pid))
    }
    openedHere.add(dir)
  }

  /** Bytes held: written and not yet replayed, plus records waiting to be written. */
  get bytes(): number {
    return this.sealed.reduce((sum, s) => sum + s.bytes, 0) + (this.active?.bytes ?? 0) + this.queuedBytes
  }

  get maxBytes(): number {
    return this.options.maxBytes
  }

  get segments(): number {
    return this.sealed.length + (this.active && this.active.bytes > 0 ? 1 : 0)
  }

  /** True while some record is written and not replayed. */
  get hasRecords(): boolean {
    return this.sealed.length > 0 || (this.active?.bytes ?? 0) > 0
  }

  get appending(): boolean {
    return this.appendsInFlight > 0
  }

  /** Resolves once every append started so far has settled. */
  async settled(): Promise<void> {
    if (this.appendsInFlight === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /** Durably append one batch; resolves after it is on disk. */
  append(events: TrackedEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the spool is closed'))
    const json = JSON.stringify(events)
    const body = Buffer.from(json, 'utf8')
    const line = Buffer.concat([Buffer.from(`${crc32(body).toString(16).padStart(8, '0')} `), body, Buffer.from('\n')])
    if (this.bytes + line.length > this.options.maxBytes) {
      this.full = true
      return Promise.reject(new SpoolFullError())
    }
    this.appendsInFlight++
    this.queuedBytes += line.length
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject })
      this.writing ??= this.writeQueued()
    }).finally(() => {
      if (--this.appendsInFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve())
    })
  }

  private async writeQueued(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0)
        const data = Buffer.concat(group.map((r) => r.line))
        try {
          const active = await this.activeSegment(data.length)
          await active.handle.write(data)
          await active.handle.datasync()
          active.bytes += data.length
          this.queuedBytes -= data.length
          group.forEach((r) => r.resolve())
        } catch (err) {
          this.queuedBytes -= data.length
          this.options.log.error({ err }, 'spool write failed')
          group.forEach((r) => r.reject(err as Error))
        }
      }
    } finally {
      this.writing = undefined
    }
  }

  private async activeSegment(incoming: number) {
    if (this.active && this.active.bytes > 0 && this.active.bytes + incoming > this.options.segmentBytes) await this.closeActive()
    if (!this.active) {
      const file = path.join(this.options.dir, segmentName(this.nextSeq++))
      const handle = await open(file, 'a')
      // The new file's directory entry must be durable too, or a crash could lose the whole file.
      const dir = await open(this.options.dir, 'r')
      await dir.sync().finally(() => dir.close())
      this.active = { file, handle, bytes: 0 }
    }
    return this.active
  }

  private async closeActive(): Promise<void> {
    const active = this.active
    if (!active) return
    this.active = undefined
    await active.handle.close()
    if (active.bytes > 0) this.sealed.push({ file: active.file, bytes: active.bytes })
    else await rm(active.file, { force: true })
  }

  /**
   * The oldest segment to replay. When only the segment being appended to holds records, it is
   * closed first (after the write in progress) so that later appends go to a new one.
   */
  async oldest(): Promise<Segment | undefined> {
    if (this.sealed.length === 0 && (this.active?.bytes ?? 0) > 0) {
      while (this.writing) await this.writing
      await this.closeActive()
    }
    return this.sealed[0]
  }

  /** The batches of a segment, in order; a record whose checksum fails (a torn tail) is skipped. */
  async read(segment: Segment): Promise<TrackedEvent[][]> {
    const text = await readFile(segment.file, 'utf8')
    const batches: TrackedEvent[][] = []
    const lines = text.split('\n')
    lines.forEach((line, i) => {
      if (line === '') return
      const space = line.indexOf(' ')
      const body = line.slice(space + 1)
      const intact = space === 8 && i < lines.length - 1 && crc32(Buffer.from(body, 'utf8')) === parseInt(line.slice(0, 8), 16)
      if (!intact) {
        this.options.log.warn({ file: segment.file, line: i + 1 }, 'skipping a torn or corrupt spool record (never acknowledged)')
        return
      }
      const events = JSON.parse(body) as Array<TrackedEvent & { receivedAt: string }>
      batches.push(events.map((e) => ({ ...e, receivedAt: new Date(e.receivedAt) })))
    })
    return batches
  }

  async remove(segment: Segment): Promise<void> {
    await rm(segment.file, { force: true })
    this.sealed = this.sealed.filter((s) => s !== segment)
    this.full = false
  }

  /** Keep an event the database refuses even alone, with the reason, out of the replay path. */
  async reject(event: TrackedEvent, reason: string): Promise<void> {
    await appendFile(path.join(this.options.dir, 'rejected.ndjson'), JSON.stringify({ reason, event }) + '\n')
  }

  async close(): Promise<void> {
    this.closed = true
    while (this.writing) await this.writing
    await this.closeActive()
    await rm(this.lockFile, { force: true })
    openedHere.delete(path.resolve(this.options.dir))
  }
}
