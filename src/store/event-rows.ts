import type { TrackedEvent } from '../events/event.js'

/**
 * Columns of `events` with their SQL types, in the order of the INSERT. Names and types are
 * constants (never input); the camelCase field of TrackedEvent maps to each column by the usual
 * snake_case rule.
 */
const COLUMNS = [
  ['org_id', 'text'], ['event_id', 'uuid'], ['received_at', 'timestamptz'], ['protocol', 'text'],
  ['type', 'text'], ['visitor_id', 'text'], ['visit_id', 'uuid'], ['username', 'text'],
  ['user_display_name', 'text'], ['anonymous', 'boolean'], ['language', 'text'],
  ['origin_level1', 'text'], ['origin_level2', 'text'], ['origin_level3', 'text'],
  ['origin_context', 'text'], ['query_pipeline', 'text'], ['search_query_uid', 'text'],
  ['last_search_query_uid', 'text'], ['query_text', 'text'], ['advanced_query', 'text'],
  ['action_cause', 'text'], ['action_type', 'text'], ['document_position', 'integer'],
  ['document_id', 'text'], ['document_url', 'text'], ['document_title', 'text'],
  ['source_name', 'text'], ['number_of_results', 'integer'], ['response_time_ms', 'integer'],
  ['outcome', 'smallint'], ['event_type', 'text'], ['event_value', 'text'], ['feedback_score', 'smallint'],
  ['user_agent', 'text'], ['browser', 'text'], ['os', 'text'], ['device_category', 'text'],
  ['is_bot', 'boolean'], ['client_ip', 'text'], ['custom_data', 'jsonb'], ['extra', 'jsonb'],
] as const

export type EventColumn = (typeof COLUMNS)[number][0]
export const EVENT_COLUMNS: readonly EventColumn[] = COLUMNS.map(([column]) => column)
/** The SQL type of each column, in EVENT_COLUMNS order (for `unnest($1::text[], …)`). */
export const EVENT_COLUMN_TYPES: readonly string[] = COLUMNS.map(([, type]) => type)

type Read = (event: TrackedEvent) => unknown

const JSON_COLUMNS: ReadonlySet<string> = new Set(['custom_data', 'extra'])

function readerOf(column: string, type: string): Read {
  const field = column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as keyof TrackedEvent
  if (column === 'received_at') return (e) => e.receivedAt.toISOString()
  if (column === 'anonymous') return (e) => e.anonymous ?? false
  if (column === 'is_bot') return (e) => e.isBot ?? false
  if (JSON_COLUMNS.has(column)) {
    return (e) => {
      const value = e[field]
      return value === undefined || value === null ? null : pgSafeJson(JSON.stringify(value))
    }
  }
  if (type === 'text') {
    return (e) => {
      const value = e[field]
      // PostgreSQL refuses NUL in text; one such string from a client would fail the whole
      // batch. (Lone surrogates need nothing here: UTF-8 encoding turns them into U+FFFD.)
      return typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '') : (value ?? null)
    }
  }
  return (e) => e[field] ?? null
}

const READERS: readonly Read[] = COLUMNS.map(([column, type]) => readerOf(column, type))

const NEEDS_ESCAPE = /["\\]/
const ESCAPABLE = /["\\]/g

/**
 * A PostgreSQL array literal (`{"a","b",NULL}`). Built here rather than by pg's generic
 * conversion, which runs two regular expressions over every element: on a batch of 1,000 events
 * that was the largest cost of the write in Node. Strings are always quoted (an unquoted `NULL`
 * would be read as null); numbers, booleans and uuids never need it.
 */
function arrayLiteral(values: readonly unknown[], quote: boolean): string {
  let literal = '{'
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ','
    const value = values[i]
    if (value === null || value === undefined) literal += 'NULL'
    else if (!quote) literal += String(value)
    else {
      const text = String(value)
      literal += NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPABLE, '\\$&')}"` : `"${text}"`
    }
  }
  return literal + '}'
}

const QUOTED: readonly boolean[] = COLUMNS.map(([, type]) => type === 'text' || type === 'jsonb' || type === 'timestamptz')

/**
 * The batch as one array literal per column, for `INSERT … SELECT FROM unnest($1::text[],
 * $2::uuid[], …)`. Measured against one jsonb document per batch (`jsonb_populate_recordset`),
 * this costs less in both processes: no JSON object per row in Node, no jsonb parse and per-field
 * record lookup in PostgreSQL (see BENCHMARKS.md).
 */
export function toColumns(events: readonly TrackedEvent[]): string[] {
  return READERS.map((read, column) => {
    const values = new Array<unknown>(events.length)
    for (let i = 0; i < events.length; i++) values[i] = read(events[i]!)
    return arrayLiteral(values, QUOTED[column]!)
  })
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
