import type pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { EVENT_COLUMNS } from '../../store/event-rows.js'
import { dimension, sqlLiteral } from '../dimensions.js'
import { ReportError } from '../errors.js'
import { compileFilter, type FilterNode } from '../filter.js'
import type { Bots, Scope } from '../params.js'

/** Dimensions computable from the raw row, as SQL over `events e`. */
const ROW_DIMENSIONS: Record<string, string> = {
  hub: 'e.origin_level1', tab: 'e.origin_level2', originLevel3: 'e.origin_level3', language: 'e.language', device: 'e.device_category',
  protocol: 'e.protocol', pipeline: 'e.query_pipeline', browser: 'e.browser', os: 'e.os', type: 'e.type', isBot: 'e.is_bot',
  numberOfResults: 'e.number_of_results', position: 'e.document_position', responseTime: 'e.response_time_ms',
  eventType: 'e.event_type', eventValue: 'e.event_value', user: 'CASE WHEN e.anonymous THEN NULL ELSE e.username END',
  visitor: 'e.visitor_id', visit: 'e.visit_id::text', cause: `coalesce(e.action_cause, e.extra->>'logType')`,
  query: `CASE WHEN e.type = 'search' THEN report_normalize_query(e.query_text) END`, hasResults: '(e.number_of_results > 0)',
  document: 'coalesce(e.document_id, e.document_url)', documentTitle: 'e.document_title', documentUrl: 'e.document_url',
  source: 'e.source_name', dataKey: `e.extra->>'dataKey'`, logType: `e.extra->>'logType'`,
}

const DEFAULT_EXCLUDED = ['user_agent', 'client_ip', 'extra']

function rowColumn(name: string, tz: string): { sql: string; type: string } {
  const d = dimension(name, tz)
  const direct = ROW_DIMENSIONS[d.name]
  if (direct) return { sql: direct, type: d.type }
  // customData keys and time dimensions are expressions of the row too.
  if (d.name.startsWith('c.')) return { sql: `e.custom_data->>${sqlLiteral(d.name.slice(2))}`, type: d.type }
  if (['hour', 'day', 'week', 'month', 'hourOfDay', 'weekday'].includes(d.name)) {
    return { sql: d.sql.searches!.replaceAll('f.received_at', 'e.received_at'), type: d.type }
  }
  throw new ReportError('InvalidDimension', `${d.name} is not computable from a raw event: it cannot filter an export`, { dimension: d.name })
}

/**
 * COPY takes no bind parameters, so values enter the statement as literals: every one goes
 * through this function (quotes doubled; standard_conforming_strings is on for the session, so a
 * backslash is an ordinary character).
 */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `ARRAY[${value.map((v) => sqlLiteral(String(v))).join(', ')}]::text[]`
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ReportError('InvalidFilter', 'numbers must be finite')
    return `${value}::numeric`
  }
  return sqlLiteral(String(value))
}

export interface ExportRequest {
  scope: Scope
  types: string[]
  columns: string[] | null
  format: 'csv' | 'ndjson'
}

export function exportSql(request: ExportRequest): string {
  const { scope } = request
  const columns = request.columns ?? EVENT_COLUMNS.filter((c) => !DEFAULT_EXCLUDED.includes(c))
  for (const c of columns) {
    if (!EVENT_COLUMNS.includes(c)) throw new ReportError('InvalidParameter', `Unknown column ${JSON.stringify(c)}: ${EVENT_COLUMNS.join(', ')}`)
  }
  const selected = columns.map((c) =>
    c === 'received_at' ? `to_char(e.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at` : `e.${c}`,
  )
  const filter = scope.filter ? compileFilter(scope.filter as FilterNode, (name) => rowColumn(name, scope.tz.pg), literal) : 'true'
  const where = [
    `e.org_id = ${literal(scope.orgId)}`,
    `e.received_at >= ${literal(scope.period.from.toUTC().toISO())}::timestamptz`,
    `e.received_at < ${literal(scope.period.to.toUTC().toISO())}::timestamptz`,
    bots(scope.bots),
    request.types.length > 0 ? `e.type = ANY(${literal(request.types)})` : 'true',
    filter,
  ]
  const select = `SELECT ${selected.join(', ')} FROM events e WHERE ${where.join(' AND ')} ORDER BY e.received_at, e.event_id`
  // NDJSON through COPY's CSV mode with quote and delimiter bytes JSON text never holds raw: each
  // line is then the JSON document unchanged (text mode would double its backslashes).
  return request.format === 'csv'
    ? `COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER true)`
    : `COPY (SELECT row_to_json(x)::text FROM (${select}) x) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`
}

function bots(value: Bots): string {
  return value === 'exclude' ? 'NOT e.is_bot' : value === 'only' ? 'e.is_bot' : 'true'
}

/**
 * Stream a raw export straight from COPY to the client: memory stays flat whatever the size, the
 * socket's back-pressure pauses the database, and a client that goes away cancels the query.
 */
export async function sendExport(
  request: FastifyRequest, reply: FastifyReply, pool: pg.Pool, sql: string, format: 'csv' | 'ndjson', headers: Record<string, string>,
): Promise<FastifyReply> {
  const client = await pool.connect()
  let released = false
  const release = (err?: Error) => {
    if (released) return
    released = true
    client.release(err)
  }
  await client.query('SET standard_conforming_strings = on')
  const stream = client.query(copyTo(sql))
  let finished = false
  stream.on('end', () => {
    finished = true
    release()
  })
  stream.on('error', (err) => {
    request.log.warn({ err }, 'export failed')
    release(err)
    reply.raw.destroy(err)
  })
  request.raw.on('close', () => {
    if (finished) return
    // The client left: stop the query rather than let it run to the end.
    void pool.query('SELECT pg_cancel_backend($1)', [(client as unknown as { processID: number }).processID]).catch(() => {})
  })
  return reply
    .headers(headers)
    .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
    .header('content-disposition', `attachment; filename="events.${format === 'csv' ? 'csv' : 'ndjson'}"`)
    .send(stream)
}
