import { parseCollect } from '../coveo/collect.js'
import { CoveoError } from '../coveo/errors.js'
import { parseEvent, type CoveoEventType } from '../coveo/fields.js'
import { EventProtocolError } from './errors.js'
import type { Issue } from './rules.js'

interface V15Verdict {
  valid: boolean
  errors: Issue[]
}

/** `Field "customData.contentIDKey"` / `Search event 2: Field "x"` → `/customData/contentIDKey`. */
function pathOf(message: string): string {
  const field = /Field "([^"]+)"/.exec(message)?.[1]
  if (!field) return ''
  return '/' + field.replace(/\[(\d+)\]/g, '.$1').split('.').join('/')
}

/** One v15 event judged by the very rules its v15 route applies (the first fault, as v15 reports it). */
function verdict(parse: () => unknown): V15Verdict {
  try {
    parse()
    return { valid: true, errors: [] }
  } catch (err) {
    if (!(err instanceof CoveoError)) throw err
    return { valid: false, errors: [{ type: err.code as Issue['type'], message: err.message, path: pathOf(err.message) }] }
  }
}

const SINGLE: ReadonlySet<string> = new Set(['search', 'click', 'custom', 'view'])

/**
 * `…/events/v1/analytics/{type}/validate`: a v15 event checked without storing it. `searches`
 * takes an array and answers one verdict per element.
 */
export function validateV15(type: string, body: unknown): V15Verdict | V15Verdict[] {
  if (body === undefined || body === null) throw new EventProtocolError(400, 'InvalidObject', `The body must be the ${type} event as JSON`)
  if (SINGLE.has(type)) return verdict(() => parseEvent(type as CoveoEventType, body))
  if (type === 'collect') return verdict(() => parseCollect(body))
  if (type === 'searches') {
    if (!Array.isArray(body)) throw new EventProtocolError(400, 'InvalidObject', 'The searches body must be a JSON array of search events')
    return body.map((item) => verdict(() => parseEvent('search', item)))
  }
  throw new EventProtocolError(404, 'NotFound', `Unknown v15 event type "${type}": use search, searches, click, custom, view or collect`)
}
