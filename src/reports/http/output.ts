import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ReportError } from '../errors.js'
import { first, type Query } from '../params.js'

export type Format = 'json' | 'csv' | 'ndjson'

export function requestedFormat(request: FastifyRequest): Format {
  const format = first(request.query as Query, 'format')?.toLowerCase()
  if (format !== undefined) {
    if (format === 'json' || format === 'csv' || format === 'ndjson') return format
    throw new ReportError('InvalidParameter', 'format is json, csv or ndjson')
  }
  const accept = request.headers.accept ?? ''
  if (/text\/csv/.test(accept)) return 'csv'
  if (/application\/(x-)?ndjson/.test(accept)) return 'ndjson'
  if (accept === '' || /application\/json|\*\/\*|application\/\*/.test(accept)) return 'json'
  throw new ReportError('NotAcceptable', 'This endpoint answers application/json, text/csv or application/x-ndjson')
}

/** Nested fields joined with `.`, arrays as JSON text. */
export function flatten(row: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [key, value] of Object.entries(row)) {
    const name = prefix ? `${prefix}.${key}` : key
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) flatten(value as Record<string, unknown>, name, out)
    else out[name] = value
  }
  return out
}

/** One RFC 4180 field: quoted when it holds a quote, comma or line break; null as empty. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text = value instanceof Date ? value.toISOString() : Array.isArray(value) ? JSON.stringify(value) : String(value)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export interface Freshness {
  completeUntil: string | null
  lagSeconds: number | null
  provisionalFrom: string
}

/**
 * Send a list as CSV or NDJSON (a report's, or the audit log), pulling pages from `next` as the client reads (back-pressure). A
 * failure mid-stream destroys the connection without the final chunk, so a truncated file cannot
 * pass for a complete one.
 */
export function streamRows(
  request: FastifyRequest,
  reply: FastifyReply,
  format: 'csv' | 'ndjson',
  freshness: Freshness | null,
  pages: AsyncIterable<Array<Record<string, unknown>>>,
  filename: string,
): FastifyReply {
  const bom = first(request.query as Query, 'bom') === 'true'
  let header: string[] | undefined
  async function* lines() {
    if (format === 'csv' && bom) yield '\uFEFF'
    for await (const page of pages) {
      let chunk = ''
      for (const row of page) {
        if (format === 'ndjson') {
          chunk += JSON.stringify(row) + '\n'
          continue
        }
        const flat = flatten(row)
        if (!header) {
          header = Object.keys(flat)
          chunk += header.map(csvField).join(',') + '\r\n'
        }
        chunk += header.map((h) => csvField(flat[h])).join(',') + '\r\n'
      }
      if (chunk) yield chunk
    }
  }
  const body = Readable.from(lines(), { objectMode: false })
  body.on('error', (err) => {
    request.log.error({ err }, 'export stream failed')
    reply.raw.destroy(err)
  })
  reply
    .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}.${format === 'csv' ? 'csv' : 'ndjson'}"`)
  // Reports say how fresh the rows are; other lists (the audit log) have no such notion.
  if (freshness) reply.header('x-complete-until', freshness.completeUntil ?? '').header('x-provisional-from', freshness.provisionalFrom)
  return reply.send(body)
}
