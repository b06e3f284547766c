/**
 * The Workplace Search analytics event, checked by hand rather than by a JSON schema: the contract
 * is one readable message per violation, and the click/feedback rules (`event` required for one
 * and forbidden for the other, `score` the reverse) come out of Ajv as `if/then` noise. The field
 * order of the messages follows the field table of docs/protocols/workplace-search.md, then unknown properties in the order sent.
 */
export interface ClickEvent {
  type: 'click'
  query_id: string
  page: number
  content_source_id: string
  document_id: string
  rank: number
  event: string
}

export interface FeedbackEvent {
  type: 'feedback'
  query_id: string
  page: number
  content_source_id: string
  document_id: string
  rank: number
  score: 1 | -1
}

export type AnalyticsEvent = ClickEvent | FeedbackEvent

export type Validation = { ok: true; event: AnalyticsEvent } | { ok: false; errors: string[] }

const FIELDS = ['type', 'query_id', 'page', 'content_source_id', 'document_id', 'rank', 'event', 'score'] as const
const MAX_STRING = 128

export function validateAnalyticsEvent(body: unknown): Validation {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, errors: ['The request body must be a JSON object'] }
  }
  const input = body as Record<string, unknown>
  const has = (field: string) => Object.hasOwn(input, field)
  const errors: string[] = []

  const type = input.type
  if (!has('type')) errors.push('type is required')
  else if (type !== 'click' && type !== 'feedback') errors.push('type must be "click" or "feedback"')

  checkString(input, 'query_id', errors)
  checkInteger(input, 'page', 1, errors)
  checkString(input, 'content_source_id', errors)
  checkString(input, 'document_id', errors)
  checkInteger(input, 'rank', 0, errors)

  // With an unknown type, only the values are checked: whether `event`/`score` belong depends on it.
  if (type === 'click' && !has('event')) errors.push('event is required for click events')
  else if (type === 'feedback' && has('event')) errors.push('event is not allowed for feedback events')
  else if (has('event')) checkString(input, 'event', errors)

  if (type === 'feedback' && !has('score')) errors.push('score is required for feedback events')
  else if (type === 'click' && has('score')) errors.push('score is not allowed for click events')
  else if (has('score') && input.score !== 1 && input.score !== -1) errors.push('score must be 1 or -1')

  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key)) errors.push(`${JSON.stringify(key)} is not an allowed property`)
  }

  if (errors.length > 0) return { ok: false, errors }
  return { ok: true, event: input as unknown as AnalyticsEvent }
}

function checkString(input: Record<string, unknown>, field: 'query_id' | 'content_source_id' | 'document_id' | 'event', errors: string[]): void {
  if (!Object.hasOwn(input, field)) {
    errors.push(`${field} is required`)
    return
  }
  const value = input[field]
  if (typeof value !== 'string') errors.push(`${field} must be a string`)
  else if (value.length === 0 || characters(value) > MAX_STRING) errors.push(`${field} must be 1 to ${MAX_STRING} characters long`)
}

function checkInteger(input: Record<string, unknown>, field: 'page' | 'rank', minimum: number, errors: string[]): void {
  if (!Object.hasOwn(input, field)) {
    errors.push(`${field} is required`)
    return
  }
  const value = input[field]
  if (typeof value !== 'number' || !Number.isInteger(value)) errors.push(`${field} must be an integer`)
  else if (value < minimum) errors.push(`${field} must be ${minimum} or greater`)
}

/** Length in characters (code points), as an emoji is one character to whoever typed it. */
function characters(value: string): number {
  // Past two code units per character the answer is "too long" whatever the string holds.
  return value.length > 2 * MAX_STRING ? value.length : [...value].length
}
