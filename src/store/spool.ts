import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { hostname } from 'node:os'
import path from 'node:path'
import { tryLock } from 'fs-native-extensions'
import type { FastifyBaseLogger as Logger } from 'fastify'
import type { TrackedEvent } from '../events/event.js'
import { HttpError } from '../errors.js'

export interface SpoolOptions {
  dir: string
  /** Bytes of unreplayed records the spool may hold; past it appends fail with SpoolFullError. */
  maxBytes: number
  /** A segment is closed and a new one started past this size (replayed segments are deleted whole). */
  segmentBytes: number
  log: Logger
}

/** The spool has no room left: the request must be refused (503) rather than acknowledged. */
export class SpoolFullError extends HttpError {
  override name = 'SpoolFullError'
  constructor() {
    super(503, 'StorageUnavailable', 'Events cannot be stored right now; retry later', { 'retry-after': '30' })
  }
}

/** The spool could not write a record (disk full, read-only, I/O error): refused, never acknowledged. */
export class SpoolWriteError extends HttpError {
  override name = 'SpoolWriteError'
  constructor(cause: unknown) {
    super(503, 'StorageUnavailable', 'Events cannot be stored right now; retry later', { 'retry-after': '30' })
    this.cause = cause
  }
}

export class SpoolLockedError extends Error {
  override name = 'SpoolLockedError'
}

export interface Segment {
  file: string
  /** Bytes of whole records: a failed write past them is never read. */
  bytes: number
}

interface QueuedRecord {
  line: Buffer
  resolve: () => void
  reject: (err: Error) => void
}

interface ActiveSegment {
  file: string
  handle: FileHandle
  bytes: number
}

const SEGMENT = /^segment-(\d{12})\.log$/
const segmentName = (seq: number) => `segment-${String(seq).padStart(12, '0')}.log`

// Spools opened by this process, for a clearer message than the lock's own refusal.
const openedHere = new Set<string>()

/**
 * Durable local spool for events that could not reach the database. Append-only segment files of
 * one line per batch, `<crc32 hex> <json>\n`; an append resolves only once its whole record is
 * written and fdatasync'ed, so an acknowledged event survives kill -9 and power loss. Concurrent
 * appends share one write and one sync (group commit, as the database writer does).
 *
 * A write that fails (ENOSPC, EROFS, EIO…) or comes up short rejects every append of its group:
 * the file is cut back to its last whole record and the segment closed, so nothing is appended
 * after a torn record and nothing unacknowledged is replayed. A torn last line left by a crash
 * mid-write (never acknowledged) fails its checksum and is skipped at replay.
 *
 * One process owns a spool directory: an exclusive OFD lock (fcntl) on `LOCK`, which the kernel
 * releases when the process dies. It holds across PID namespaces (containers sharing a volume,
 * each process PID 1) and, on NFS, across hosts; a second instance refuses to start.
 */
export class Spool {
  private sealed: Segment[] = []
  private active: ActiveSegment | undefined
  private nextSeq = 1
  private queue: QueuedRecord[] = []
  private queuedBytes = 0
  private writing: Promise<void> | undefined
  private closed = false
  private appendsInFlight = 0
  private idleWaiters: Array<() => void> = []
  private lock: FileHandle | undefined
  /** An append was refused for want of room, and no replay has freed any since. */
  full = false
  /** The last write failed (disk full, read-only, I/O): appends are being refused. */
  failing = false

  private constructor(private readonly options: SpoolOptions) {}

  static async open(options: SpoolOptions): Promise<Spool> {
    await mkdir(options.dir, { recursive: true })
    const spool = new Spool(options)
    await spool.takeLock()
    try {
      const names = (await readdir(options.dir)).filter((n) => SEGMENT.test(n)).sort()
      for (const name of names) {
        const file = path.join(options.dir, name)
        const { size } = await stat(file)
        if (size === 0) await rm(file, { force: true })
        else spool.sealed.push({ file, bytes: size })
        spool.nextSeq = Math.max(spool.nextSeq, Number(SEGMENT.exec(name)![1]) + 1)
      }
    } catch (err) {
      await spool.releaseLock()
      throw err
    }
    if (spool.sealed.length > 0) {
      options.log.warn({ segments: spool.sealed.length, bytes: spool.bytes }, 'spool holds events from a previous run; replaying')
    }
    return spool
  }

  private async takeLock(): Promise<void> {
    const dir = path.resolve(this.options.dir)
    if (openedHere.has(dir)) throw new SpoolLockedError(`spool directory ${dir} is already open in this process`)
    const handle = await open(path.join(dir, 'LOCK'), 'a+')
    if (!tryLock(handle.fd)) {
      const owner = (await handle.readFile('utf8').catch(() => '')).trim()
      await handle.close()
      throw new SpoolLockedError(
        `spool directory ${dir} is in use by another instance${owner ? ` (${owner})` : ''}; give each instance its own DATA_DIR`,
      )
    }
    // Who holds it, for the message above; the lock itself is the kernel's, not this text.
    await handle.truncate(0)
    await handle.write(`pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}\n`, 0)
    this.lock = handle
    openedHere.add(dir)
  }

  private async releaseLock(): Promise<void> {
    // The file stays: removing it would let a waiting opener lock an unlinked inode while a third
    // process locks a new file of the same name.
    await this.lock?.close()
    this.lock = undefined
    openedHere.delete(path.resolve(this.options.dir))
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
    if (this.closed) return Promise.reject(new SpoolWriteError(new Error('the spool is closed')))
    const body = Buffer.from(JSON.stringify(events), 'utf8')
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
        this.queuedBytes -= data.length
        try {
          await this.writeWhole(data)
          this.failing = false
          group.forEach((r) => r.resolve())
        } catch (err) {
          this.failing = true
          this.options.log.error({ err }, 'spool write failed: refusing events until a write succeeds')
          const refused = new SpoolWriteError(err)
          group.forEach((r) => r.reject(refused))
        }
      }
    } finally {
      this.writing = undefined
    }
  }

  /**
   * Write `data` at the end of the active segment and sync it. A short write is continued (a
   * write may legally store fewer bytes than asked); any error cuts the file back to its last
   * whole record and closes the segment, so the next append starts a fresh one.
   */
  private async writeWhole(data: Buffer): Promise<void> {
    const active = await this.activeSegment(data.length)
    try {
      let written = 0
      while (written < data.length) {
        const { bytesWritten } = await active.handle.write(data, written, data.length - written, active.bytes + written)
        if (bytesWritten === 0) throw new Error('the spool file accepted no bytes')
        written += bytesWritten
      }
      await active.handle.datasync()
      active.bytes += data.length
    } catch (err) {
      await active.handle.truncate(active.bytes).catch(() => {})
      await this.closeActive().catch(() => {})
      throw err
    }
  }

  private async activeSegment(incoming: number): Promise<ActiveSegment> {
    if (this.active && this.active.bytes > 0 && this.active.bytes + incoming > this.options.segmentBytes) await this.closeActive()
    if (!this.active) {
      const file = path.join(this.options.dir, segmentName(this.nextSeq++))
      const handle = await open(file, 'w')
      try {
        // The new file's directory entry must be durable too, or a crash could lose the whole file.
        const dir = await open(this.options.dir, 'r')
        await dir.sync().finally(() => dir.close())
      } catch (err) {
        await handle.close().catch(() => {})
        await rm(file, { force: true }).catch(() => {})
        throw err
      }
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
    const handle = await open(segment.file, 'r')
    let text: string
    try {
      // Only the bytes known to hold whole records (a failed write past them was cut, or is junk).
      const buffer = Buffer.alloc(segment.bytes)
      let read = 0
      while (read < segment.bytes) {
        const { bytesRead } = await handle.read(buffer, read, segment.bytes - read, read)
        if (bytesRead === 0) break
        read += bytesRead
      }
      text = buffer.subarray(0, read).toString('utf8')
    } finally {
      await handle.close()
    }
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
    // Room was freed: the next append tries again (and says so again if it still cannot write).
    this.full = false
    this.failing = false
  }

  /**
   * Take over the segments of another spool (one no process runs any more: a cluster worker that
   * is not started again), so that this one replays them. Each file is renamed into this
   * directory, which is atomic on one filesystem: a segment is always in exactly one spool.
   * Both spools must be open here (each holds its directory's lock) and `from` idle.
   */
  async adopt(from: Spool): Promise<number> {
    let moved = 0
    for (const segment of [...from.sealed]) {
      const file = path.join(this.options.dir, segmentName(this.nextSeq++))
      await rename(segment.file, file)
      from.sealed = from.sealed.filter((s) => s !== segment)
      this.sealed.push({ file, bytes: segment.bytes })
      moved++
    }
    return moved
  }

  async close(): Promise<void> {
    this.closed = true
    while (this.writing) await this.writing
    await this.closeActive()
    await this.releaseLock()
  }
}
