import type { TrackedEvent } from '../events/event.js'

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
  ['received_at', 'timestamptz', (e) => e.receivedAt.toISOString()],
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
]

export const EVENT_COLUMNS: readonly string[] = COLUMNS.map(([column]) => column)
/** The SQL type of each column, in EVENT_COLUMNS order (for `unnest($1::text[], …)`). */
export const EVENT_COLUMN_TYPES: readonly string[] = COLUMNS.map(([, type]) => type)

const READERS: readonly Read[] = COLUMNS.map(([, , read]) => read)

const NEEDS_ESCAPE = /["\\]/
const ESCAPABLE = /["\\]/g
const QUOTED: readonly boolean[] = COLUMNS.map(([, type]) => type === 'text' || type === 'jsonb' || type === 'timestamptz')

/**
 * The batch as one PostgreSQL array literal per column (`{"a","b",NULL}`), for `INSERT … SELECT
 * FROM unnest($1::text[], $2::uuid[], …)`. Measured against one jsonb document per batch
 * (`jsonb_populate_recordset`), this costs less in both processes: no JSON object per row in
 * Node, no jsonb parse and per-field record lookup in PostgreSQL (see BENCHMARKS.md).
 *
 * Built here rather than by pg's generic conversion, which runs two regular expressions over
 * every element. Strings are always quoted (an unquoted `NULL` would be read as null); numbers,
 * booleans and uuids never need it. A column without a value in the whole batch is sent as NULL:
 * unnest pads a NULL array with NULLs, and a third of the columns of a typical batch are empty
 * (nothing to build, send or parse: the batch statement −12 % at 500 events).
 */
export function toColumns(events: readonly TrackedEvent[]): Array<string | null> {
  const columns = new Array<string | null>(READERS.length)
  for (let c = 0; c < READERS.length; c++) {
    const read = READERS[c]!
    const quote = QUOTED[c]!
    let literal = '{'
    let present = false
    for (let i = 0; i < events.length; i++) {
      if (i > 0) literal += ','
      const value = read(events[i]!)
      if (value === null || value === undefined) {
        literal += 'NULL'
        continue
      }
      present = true
      const text = String(value)
      if (!quote) literal += text
      else literal += NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPABLE, '\\$&')}"` : `"${text}"`
    }
    columns[c] = present ? literal + '}' : null
  }
  return columns
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
