import type pg from 'pg'
import type { Clock } from '../events/event.js'

/** Round trips per measurement: the quickest one gives the offset (its error is at most half of it). */
const SAMPLES = 3

/**
 * Receipt times on the database's clock. Each instance stamps the events it receives, and the
 * database compares those stamps: visits are cut where a visitor's events are more than the
 * timeout apart, whichever instance received them, and reports bucket by them. Instances whose
 * clocks disagree would split or merge visits and misplace events; read on one clock — the
 * database's — they agree to within a round trip.
 *
 * The offset between this machine's clock and the database's is measured like NTP does, from the
 * quickest of a few round trips (`clock_timestamp()` read halfway through), then added to every
 * reading of the machine's clock: a stamp costs no round trip, and while the database is
 * unreachable (events going to the spool) the last offset measured still applies.
 */
export class DatabaseClock {
  private offsetMs = 0
  private measured = false

  constructor(private readonly machineTime: () => number = Date.now) {}

  /** The time now on the database's clock (the machine's until the first measurement). */
  readonly now: Clock = () => new Date(this.machineTime() + this.offsetMs)

  /** How far the database's clock is ahead of this machine's, in milliseconds (0 until measured). */
  get offset(): number {
    return this.offsetMs
  }

  get synchronized(): boolean {
    return this.measured
  }

  /** Measure the offset again; throws what the database throws (the last offset stays). */
  async synchronize(pool: pg.Pool): Promise<void> {
    const client = await pool.connect()
    try {
      let best: { roundTrip: number; offset: number } | undefined
      for (let i = 0; i < SAMPLES; i++) {
        const sent = this.machineTime()
        const { rows } = await client.query<{ ms: string }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::text AS ms')
        const received = this.machineTime()
        const roundTrip = received - sent
        const offset = Number(rows[0]!.ms) - (sent + received) / 2
        if (!best || roundTrip < best.roundTrip) best = { roundTrip, offset }
      }
      this.offsetMs = Math.round(best!.offset)
      this.measured = true
    } finally {
      client.release()
    }
  }
}
