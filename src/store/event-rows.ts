import type { TrackedEvent } from '../events/event.js'

/**
 * Columns of `events`, in the order of the INSERT. Names are constants (never input); the
 * camelCase field of TrackedEvent maps to each by the usual snake_case rule.
 */
export const EVENT_COLUMNS = [
  'org_id', 'event_id', 'received_at', 'protocol', 'type', 'visitor_id', 'visit_id', 'username',
  'user_display_name', 'anonymous', 'language', 'origin_level1', 'origin_level2', 'origin_level3',
  'origin_context', 'query_pipeline', 'search_query_uid', 'last_search_query_uid', 'query_text',
  'advanced_query', 'action_cause', 'action_type', 'document_position', 'document_id',
  'document_url', 'document_title', 'source_name', 'number_of_results', 'response_time_ms',
  'outcome', 'event_type', 'event_value', 'feedback_score', 'user_agent', 'browser', 'os',
  'device_category', 'is_bot', 'client_ip', 'custom_data', 'extra',
] as const

const FIELD_OF_COLUMN: ReadonlyArray<readonly [string, string]> = EVENT_COLUMNS.map((column) => [
  column,
  column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
])

/** The event as a JSON-ready row keyed by column name (for jsonb_populate_recordset). */
export function toRow(event: TrackedEvent): Record<string, unknown> {
  const source = event as unknown as Record<string, unknown>
  const row: Record<string, unknown> = {}
  for (const [column, field] of FIELD_OF_COLUMN) {
    const value = source[field]
    if (value !== undefined && value !== null) row[column] = value
  }
  row.anonymous = event.anonymous ?? false
  row.is_bot = event.isBot ?? false
  return row
}
