import { truncate } from '../../events/truncate.js'

/**
 * A small declarative checker for Event Protocol payloads. Each event is judged alone and a
 * validation request wants every fault of an event, not just the first, so faults are collected
 * as issues (with the field's path) instead of thrown. Checking also builds the cleaned value:
 * over-long strings cut to their width (and the cut recorded), `""` ids turned into null, unknown
 * keys of nested objects kept as sent.
 */
export type IssueType = 'MissingParameter' | 'InvalidObject' | 'InvalidEventType'

export interface Issue {
  type: IssueType
  message: string
  /** JSON Pointer into the event, e.g. `/itemMetadata/uniqueFieldValue`. */
  path: string
}

export type Rule =
  /** Cut to `max` when longer; `min` (default 0) refused. */
  | { kind: 'string'; max: number; min?: number }
  /** An id: longer than `max` is refused (a cut id would join nothing); `""` means absent. */
  | { kind: 'id'; max: number }
  /** An open enum: any string of 1–128 characters, so a newer client's value is not refused. */
  | { kind: 'label' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'integer'; min: number; max: number }
  /** A finite number; `above` is an exclusive lower bound, `min` an inclusive one. */
  | { kind: 'number'; min?: number; above?: number }
  | { kind: 'boolean' }
  | { kind: 'currency' }
  | { kind: 'object'; fields: Fields }
  | { kind: 'array'; items: Rule; maxItems: number }

export type Fields = Readonly<Record<string, { rule: Rule; required?: boolean }>>

export const LABEL_MAX = 128
const CURRENCY = /^[A-Z]{3}$/

/** Where checking is: the issues found so far and the fields cut so far. */
export class Check {
  readonly issues: Issue[] = []
  readonly truncated: string[] = []

  issue(type: IssueType, path: readonly (string | number)[], message: string): void {
    this.issues.push({ type, message, path: pointer(path) })
  }
}

/** `itemMetadata.title`, `products[0].quantity`: how messages name a field. */
export function dotted(path: readonly (string | number)[]): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`
  return out
}

function pointer(path: readonly (string | number)[]): string {
  let out = ''
  for (const part of path) out += '/' + String(part).replaceAll('~', '~0').replaceAll('/', '~1')
  return out
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Check one value against its rule. Returns the cleaned value, or undefined when the value is
 * refused (an issue was recorded) or stands for "absent" (an empty id).
 */
export function checkValue(value: unknown, rule: Rule, path: (string | number)[], check: Check): unknown {
  const field = () => dotted(path)
  const wrong = (expected: string) => check.issue('InvalidObject', path, `Field "${field()}" must be ${expected}, got ${describe(value)}`)
  switch (rule.kind) {
    case 'string': {
      if (typeof value !== 'string') return wrong('a string')
      if (rule.min !== undefined && value.length < rule.min) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be a string of ${rule.min} to ${rule.max} characters`)
      }
      if (value.length <= rule.max) return value
      check.truncated.push(field())
      return truncate(value, rule.max)
    }
    case 'id':
      if (typeof value !== 'string') return wrong('a string')
      if (value.length > rule.max) return check.issue('InvalidObject', path, `Field "${field()}" must be at most ${rule.max} characters long`)
      // Headless sends responseId "" for a result without searchUid, answerId "" without an answer.
      return value === '' ? undefined : value
    case 'label':
      if (typeof value !== 'string') return wrong('a string')
      if (value.length === 0 || value.length > LABEL_MAX) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be a string of 1 to ${LABEL_MAX} characters`)
      }
      return value
    case 'enum':
      if (typeof value !== 'string' || !rule.values.includes(value)) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be one of ${rule.values.join(', ')}, got ${JSON.stringify(value)}`)
      }
      return value
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be an integer from ${rule.min} to ${rule.max}`)
      }
      return value
    case 'number':
      // JSON.parse reads 1e400 as Infinity: refused here, as no column can hold it.
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrong('a finite number')
      if (rule.above !== undefined && !(value > rule.above)) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be a number greater than ${rule.above}`)
      }
      if (rule.min !== undefined && value < rule.min) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be a number of ${rule.min} or more`)
      }
      return value
    case 'boolean':
      if (typeof value !== 'boolean') return wrong('a boolean')
      return value
    case 'currency':
      if (typeof value !== 'string' || !CURRENCY.test(value)) {
        return check.issue('InvalidObject', path, `Field "${field()}" must be a 3-letter upper-case currency code such as USD, got ${JSON.stringify(value)}`)
      }
      return value
    case 'object':
      if (!isObject(value)) return wrong('a JSON object')
      return checkFields(value, rule.fields, path, check, true)
    case 'array': {
      if (!Array.isArray(value)) return wrong('an array')
      if (value.length > rule.maxItems) {
        return check.issue('InvalidObject', path, `Field "${field()}" must hold at most ${rule.maxItems} items`)
      }
      const out: unknown[] = []
      for (let i = 0; i < value.length; i++) {
        path.push(i)
        out.push(checkValue(value[i], rule.items, path, check))
        path.pop()
      }
      return out
    }
  }
}

/**
 * Check the declared fields of an object. Null counts as absent (clients send null for unset
 * optional fields). With `keepUnknown`, keys the rules do not name are copied as sent.
 */
export function checkFields(
  source: Record<string, unknown>,
  fields: Fields,
  path: (string | number)[],
  check: Check,
  keepUnknown: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const name in fields) {
    const { rule, required } = fields[name]!
    const value = source[name]
    path.push(name)
    if (value === undefined || value === null) {
      if (required) check.issue('MissingParameter', path, `Field "${dotted(path)}" is required`)
    } else {
      const cleaned = checkValue(value, rule, path, check)
      if (cleaned !== undefined) out[name] = cleaned
    }
    path.pop()
  }
  if (keepUnknown) {
    for (const name in source) if (!Object.hasOwn(fields, name)) out[name] = source[name]
  }
  return out
}
