import { truncate } from '../../events/truncate.js'
import { CoveoError } from './errors.js'
import { VISITOR_MAX, CONTENT_ID_VALUE_MAX, type ParsedEvent } from './fields.js'

/** Short keys of the Measurement-Protocol hit that have a column; everything stays in `extra`. */
const COLUMNS = [
  ['t', 'eventType', 128],
  ['ua', 'userAgent', 1024],
  ['ul', 'language', 256],
  ['dl', 'documentUrl', 1024],
  ['dt', 'documentTitle', 1024],
  ['contentId', 'documentId', CONTENT_ID_VALUE_MAX],
  ['searchHub', 'originLevel1', 128],
  ['tab', 'originLevel2', 128],
] as const

/**
 * A `collect` hit (coveoua plugins, Measurement-Protocol style): a free JSON object stored whole
 * in `extra`; its client id `cid` is the visitor, like a body `clientId`.
 */
export function parseCollect(body: unknown): ParsedEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CoveoError(400, 'InvalidObject', 'The collect event must be a JSON object')
  }
  const hit = body as Record<string, unknown>
  const fields: Record<string, unknown> = { extra: hit }
  const truncated: string[] = []
  for (const [key, column, max] of COLUMNS) {
    const value = hit[key]
    if (typeof value !== 'string') continue
    if (value.length > max) truncated.push(key)
    fields[column] = truncate(value, max)
  }
  const cid = typeof hit.cid === 'string' && hit.cid !== '' ? hit.cid : undefined
  if (cid && cid.length > VISITOR_MAX) truncated.push('cid')
  return { fields, clientId: cid && truncate(cid, VISITOR_MAX), truncated }
}
