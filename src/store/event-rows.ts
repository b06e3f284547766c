import type { TrackedEvent } from '../events/event.js'
import { EventValueError } from '../errors.js'

type Read = (event: TrackedEvent) => unknown

// PostgreSQL refuses NUL in text; one such string from a client would fail the whole batch.
// (Lone surrogates need nothing here: UTF-8 encoding turns them into U+FFFD.)
function text(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null
  return value.includes('\u0000') ? value.replaceAll('\u0000', '') : value
}

function json(value: Record<string, unknown> | null | undefined): string | null {
  return value === undefined || value === null ? null : pgSafeJson(JSON.stringify(value))
}

/**
 * Columns of `events` in the order of the INSERT, with their SQL types and how each is read from
 * an event. Names and types are constants (never input). One reader per column, each naming its
 * field: a shared `event[name]` reader was a megamorphic keyed load, a hash lookup per value.
 */
const COLUMNS: ReadonlyArray<readonly [string, string, Read]> = [
  ['org_id', 'text', (e) => text(e.orgId)],
  ['event_id', 'uuid', (e) => e.eventId],
  ['received_at', 'timestamptz', (e) => e.receivedAt],
  ['protocol', 'text', (e) => e.protocol],
  ['type', 'text', (e) => e.type],
  ['visitor_id', 'text', (e) => text(e.visitorId)],
  ['visit_id', 'uuid', (e) => e.visitId ?? null],
  ['username', 'text', (e) => text(e.username)],
  ['user_display_name', 'text', (e) => text(e.userDisplayName)],
  ['anonymous', 'boolean', (e) => e.anonymous ?? false],
  ['language', 'text', (e) => text(e.language)],
  ['origin_level1', 'text', (e) => text(e.originLevel1)],
  ['origin_level2', 'text', (e) => text(e.originLevel2)],
  ['origin_level3', 'text', (e) => text(e.originLevel3)],
  ['origin_context', 'text', (e) => text(e.originContext)],
  ['query_pipeline', 'text', (e) => text(e.queryPipeline)],
  ['search_query_uid', 'text', (e) => text(e.searchQueryUid)],
  ['last_search_query_uid', 'text', (e) => text(e.lastSearchQueryUid)],
  ['query_text', 'text', (e) => text(e.queryText)],
  ['advanced_query', 'text', (e) => text(e.advancedQuery)],
  ['action_cause', 'text', (e) => text(e.actionCause)],
  ['action_type', 'text', (e) => text(e.actionType)],
  ['document_position', 'integer', (e) => e.documentPosition ?? null],
  ['document_id', 'text', (e) => text(e.documentId)],
  ['document_url', 'text', (e) => text(e.documentUrl)],
  ['document_title', 'text', (e) => text(e.documentTitle)],
  ['source_name', 'text', (e) => text(e.sourceName)],
  ['number_of_results', 'integer', (e) => e.numberOfResults ?? null],
  ['response_time_ms', 'integer', (e) => e.responseTimeMs ?? null],
  ['outcome', 'smallint', (e) => e.outcome ?? null],
  ['event_type', 'text', (e) => text(e.eventType)],
  ['event_value', 'text', (e) => text(e.eventValue)],
  ['feedback_score', 'smallint', (e) => e.feedbackScore ?? null],
  ['user_agent', 'text', (e) => text(e.userAgent)],
  ['browser', 'text', (e) => text(e.browser)],
  ['os', 'text', (e) => text(e.os)],
  ['device_category', 'text', (e) => text(e.deviceCategory)],
  ['is_bot', 'boolean', (e) => e.isBot ?? false],
  ['client_ip', 'text', (e) => text(e.clientIp)],
  ['custom_data', 'jsonb', (e) => json(e.customData)],
  ['extra', 'jsonb', (e) => json(e.extra)],
  ['tracking_id', 'text', (e) => text(e.trackingId)],
  ['currency', 'text', (e) => text(e.currency)],
  // numeric columns, sent as float8 arrays: see ELEMENT_TYPES.float8.
  ['price', 'float8', (e) => e.price ?? null],
  ['quantity', 'float8', (e) => e.quantity ?? null],
  ['revenue', 'float8', (e) => e.revenue ?? null],
  ['transaction_id', 'text', (e) => text(e.transactionId)],
]

export const EVENT_COLUMNS: readonly string[] = COLUMNS.map(([column]) => column)
/** The SQL type of each column, in EVENT_COLUMNS order (for `unnest($1::text[], …)`). */
export const EVENT_COLUMN_TYPES: readonly string[] = COLUMNS.map(([, type]) => type)

const READERS: readonly Read[] = COLUMNS.map(([, , read]) => read)

/**
 * A value PostgreSQL would refuse for its column. It carries a data-exception code (SQLSTATE
 * class 22), as PostgreSQL's own refusal would, so the batch is rejected, never spooled.
 */
export class ColumnValueError extends Error {
  override name = 'ColumnValueError'
  readonly code = '22P02'
}

/*
 * Limits of what the database can store, checked for every event before it is queued, so that a
 * value the database would refuse is answered 400 for its own request and never fails a batch of
 * others (or, acknowledged during an outage, jams the spool's replay). Protocol adapters check
 * their fields first with their own messages; this is the line no event crosses.
 *
 * Text columns take any length (TOAST), except those in an index: a B-tree entry must fit in a
 * third of a page (2704 bytes), so a visitor id gets a budget well under that, beside org_id.
 */
export const VISITOR_ID_MAX_BYTES = 1024
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export const IDEMPOTENCY_KEY_MAX_BYTES = 512
const ORG_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/
const INT4: readonly [number, number] = [-(2 ** 31), 2 ** 31 - 1]
const INT2: readonly [number, number] = [-(2 ** 15), 2 ** 15 - 1]

function inRange(value: number | null | undefined, [min, max]: readonly [number, number]): boolean {
  return value === null || value === undefined || (Number.isInteger(value) && value >= min && value <= max)
}

function finite(value: number | null | undefined): boolean {
  return value === null || value === undefined || (typeof value === 'number' && Number.isFinite(value))
}

function fitsBytes(value: string | null | undefined, max: number): boolean {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most values are decided without encoding them.
  return value === null || value === undefined || value.length * 3 <= max || Buffer.byteLength(value) <= max
}

/** Throws EventValueError naming the first value of `event` that cannot be stored. */
export function checkEvent(event: TrackedEvent): void {
  const problem =
    typeof event.orgId !== 'string' || !ORG_ID.test(event.orgId) ? 'the organization id is not valid'
    : typeof event.eventId !== 'string' || !UUID.test(event.eventId) ? 'the event id is not a UUID'
    : !(event.receivedAt instanceof Date) || !Number.isFinite(event.receivedAt.getTime()) ? 'the receipt time is not a valid time'
    : event.visitId !== null && event.visitId !== undefined && !UUID.test(event.visitId) ? 'the visit id is not a UUID'
    : !fitsBytes(event.visitorId, VISITOR_ID_MAX_BYTES) ? `the visitor id is longer than ${VISITOR_ID_MAX_BYTES} bytes`
    : !fitsBytes(event.idempotencyKey, IDEMPOTENCY_KEY_MAX_BYTES) ? `the idempotency key is longer than ${IDEMPOTENCY_KEY_MAX_BYTES} bytes`
    : !inRange(event.documentPosition, INT4) ? `the document position ${event.documentPosition} is not an integer from 1 to ${INT4[1]}`
    : !inRange(event.numberOfResults, INT4) ? `the number of results ${event.numberOfResults} is not an integer from 0 to ${INT4[1]}`
    : !inRange(event.responseTimeMs, INT4) ? `the response time ${event.responseTimeMs} is not an integer from 0 to ${INT4[1]}`
    : !inRange(event.outcome, INT2) ? `the outcome ${event.outcome} is out of range`
    : !inRange(event.feedbackScore, INT2) ? `the feedback score ${event.feedbackScore} is out of range`
    : !finite(event.price) || !finite(event.quantity) || !finite(event.revenue) ? 'a price, quantity or revenue is not a finite number'
    : null
  if (problem) throw new EventValueError(`This event cannot be stored: ${problem}`)
}

/** A growable buffer for PostgreSQL's binary wire format (big-endian). */
class Output {
  buf: Buffer
  at = 0

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size)
  }

  reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes))
    this.buf.copy(grown, 0, 0, this.at)
    this.buf = grown
  }

  int32(value: number): void {
    this.reserve(4)
    this.buf.writeInt32BE(value, this.at)
    this.at += 4
  }

  /** A length-prefixed UTF-8 string (lone surrogates become U+FFFD), after an optional prefix byte. */
  utf8(value: string, prefix?: number): void {
    const head = prefix === undefined ? 4 : 5
    this.reserve(head + value.length * 3)
    const bytes = this.buf.write(value, this.at + head, 'utf8')
    this.buf.writeInt32BE(bytes + head - 4, this.at)
    if (prefix !== undefined) this.buf[this.at + 4] = prefix
    this.at += head + bytes
  }
}

interface ElementType {
  oid: number
  /** Writes one non-null element: its int32 length, then its binary form. */
  write(out: Output, value: unknown, column: string): void
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1)

function hexDigit(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57
}

function integer(bytes: 2 | 4, min: number, max: number): (out: Output, value: unknown, column: string) => void {
  return (out, value, column) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ColumnValueError(`${column}: ${String(value)} is not an integer from ${min} to ${max}`)
    }
    out.int32(bytes)
    if (bytes === 2) out.buf.writeInt16BE(value, out.at)
    else out.buf.writeInt32BE(value, out.at)
    out.at += bytes
  }
}

/** The receive functions' input for each column type (see PostgreSQL's *_recv). */
const ELEMENT_TYPES: Record<string, ElementType> = {
  text: { oid: 25, write: (out, value) => out.utf8(value as string) },
  // jsonb_recv: a version byte (1), then the JSON text.
  jsonb: { oid: 3802, write: (out, value) => out.utf8(value as string, 1) },
  uuid: {
    oid: 2950,
    write(out, value, column) {
      const id = value as string
      if (typeof id !== 'string' || !UUID.test(id)) throw new ColumnValueError(`${column}: ${String(id)} is not a UUID`)
      out.int32(16)
      out.reserve(16)
      for (let i = 0; i < 36; i += 2) {
        if (id.charCodeAt(i) === 0x2d) i++ // the dashes at 8, 13, 18 and 23
        out.buf[out.at++] = (hexDigit(id.charCodeAt(i)) << 4) | hexDigit(id.charCodeAt(i + 1))
      }
    },
  },
  // timestamptz_recv: microseconds since 2000-01-01 UTC as an int64, written as two int32 halves.
  timestamptz: {
    oid: 1184,
    write(out, value, column) {
      const ms = value instanceof Date ? value.getTime() : NaN
      if (!Number.isFinite(ms)) throw new ColumnValueError(`${column}: not a valid time`)
      const micros = (ms - PG_EPOCH_MS) * 1000
      const high = Math.floor(micros / 2 ** 32)
      out.int32(8)
      out.int32(high)
      out.reserve(4)
      out.buf.writeUInt32BE(micros - high * 2 ** 32, out.at)
      out.at += 4
    },
  },
  integer: { oid: 23, write: integer(4, -(2 ** 31), 2 ** 31 - 1) },
  smallint: { oid: 21, write: integer(2, -(2 ** 15), 2 ** 15 - 1) },
  // The price, quantity and revenue columns are `numeric`, but their values arrive as JSON numbers,
  // i.e. doubles: numeric's binary form (base-10000 digits, weight, scale) would be built from a
  // decimal rendering of each double, for nothing. They go as float8 (8 bytes, one write) and the
  // INSERT's assignment cast turns each into numeric with 15 significant digits (float8_numeric),
  // so any amount written with up to 15 digits — every price — is stored exactly as it was sent.
  float8: {
    oid: 701,
    write(out, value, column) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ColumnValueError(`${column}: ${String(value)} is not a finite number`)
      out.int32(8)
      out.reserve(8)
      out.buf.writeDoubleBE(value, out.at)
      out.at += 8
    },
  },
  boolean: {
    oid: 16,
    write(out, value) {
      out.int32(1)
      out.reserve(1)
      out.buf[out.at++] = value === true ? 1 : 0
    },
  },
}

const ELEMENTS: readonly ElementType[] = COLUMNS.map(([, type]) => ELEMENT_TYPES[type]!)

/**
 * The batch as one array per column, in PostgreSQL's binary array format (what array_send
 * writes: a header, then each element as an int32 length, -1 for NULL, and its binary form), for
 * `INSERT … SELECT FROM unnest($1::text[], $2::uuid[], …)`. pg sends Buffer parameters as binary.
 *
 * Against text array literals (`{"a","b",NULL}`) this is less work on both sides: Node writes
 * bytes instead of concatenating and quoting strings (the ropes were a large part of the
 * garbage of a batch), and PostgreSQL copies elements instead of parsing quotes, escapes, UUIDs
 * and timestamps. Measured against one jsonb document per batch earlier, arrays per column cost
 * less in both processes too (BENCHMARKS.md).
 *
 * A column without a value in the whole batch is sent as NULL: unnest pads a NULL array with
 * NULLs, and a third of the columns of a typical batch are empty.
 */
export function toColumns(events: readonly TrackedEvent[]): Array<Buffer | null> {
  const out = new Output(1024 + events.length * 512)
  const spans: Array<[number, number] | null> = []
  for (let c = 0; c < READERS.length; c++) {
    const read = READERS[c]!
    const element = ELEMENTS[c]!
    const column = COLUMNS[c]![0]
    const start = out.at
    // Header: one dimension, the has-nulls flag (patched below), element type, length, lower bound 1.
    out.int32(1)
    out.int32(0)
    out.int32(element.oid)
    out.int32(events.length)
    out.int32(1)
    let nulls = false
    let values = false
    for (let i = 0; i < events.length; i++) {
      const value = read(events[i]!)
      if (value === null || value === undefined) {
        nulls = true
        out.int32(-1)
      } else {
        values = true
        element.write(out, value, column)
      }
    }
    if (!values) {
      out.at = start
      spans.push(null)
      continue
    }
    if (nulls) out.buf.writeInt32BE(1, start + 4)
    spans.push([start, out.at])
  }
  return spans.map((span) => (span ? out.buf.subarray(span[0], span[1]) : null))
}

/**
 * One more text column in the same binary array form, for values that travel with the batch but
 * are not `events` columns (the idempotency keys); null when every value is null.
 */
export function toTextArray(values: ReadonlyArray<string | null | undefined>): Buffer | null {
  if (values.every((v) => v === null || v === undefined)) return null
  const out = new Output(64 + values.length * 64)
  out.int32(1)
  out.int32(values.includes(null) || values.includes(undefined) ? 1 : 0)
  out.int32(ELEMENT_TYPES.text!.oid)
  out.int32(values.length)
  out.int32(1)
  for (const value of values) {
    const stored = text(value)
    if (stored === null) out.int32(-1)
    else out.utf8(stored)
  }
  return out.buf.subarray(0, out.at)
}

// JSON.stringify escapes NUL and lone surrogates as \u0000 / \udXXX (a real pair is written as
// the character itself). PostgreSQL refuses both in jsonb, and one such string from a client
// would fail the whole batch, so drop NULs and turn lone surrogates into U+FFFD. The look-behind
// skips an escaped backslash followed by a literal "u0000".
const UNSAFE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/gi

export function pgSafeJson(json: string): string {
  if (!json.includes('\\u')) return json
  return json.replace(UNSAFE_ESCAPE, (_m, backslashes: string, code: string) =>
    backslashes + (code === '0000' ? '' : '\\ufffd'),
  )
}
