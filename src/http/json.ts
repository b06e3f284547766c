import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { HttpError } from '../errors.js'

/*
 * The one way a JSON text from a client becomes a value, whatever carried it: a JSON body, a
 * text/plain beacon, or a form field holding JSON. Every path gets the same rules, so a client
 * cannot get around one of them by changing its Content-Type:
 *  - bytes must be valid UTF-8 (never silently turned into U+FFFD);
 *  - nesting is bounded, checked before a recursive parse;
 *  - every number must be stored exactly as sent: 1e400 would become null and 2^53 + 1 would
 *    change, so such numbers are refused rather than altered;
 *  - `__proto__` and `constructor.prototype` keys are refused (they would be dropped, or leak
 *    inherited values into the event).
 */

export class InvalidEncodingError extends HttpError {
  constructor(where = 'The request body') {
    super(400, 'InvalidEncoding', `${where} is not valid UTF-8`)
  }
}

export class JsonTooDeepError extends HttpError {
  constructor(maxDepth: number) {
    super(400, 'JsonTooDeep', `The request body nests objects or arrays deeper than ${maxDepth} levels`)
  }
}

export class InvalidJsonError extends HttpError {
  constructor(message = 'The request body is not valid JSON') {
    super(400, 'InvalidJson', message)
  }
}

export class InexactNumberError extends HttpError {
  constructor(literal: string) {
    const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal
    super(400, 'InvalidNumber', `The number ${shown} cannot be stored exactly (beyond double precision or range); send it as a string`)
  }
}

/**
 * The value a decimal literal stands for, as `<sign><digits>e<exponent>` with the digits stripped
 * of leading and trailing zeros (value = 0.<digits> × 10^exponent): two literals are the same
 * number exactly when their forms are equal.
 */
function decimalForm(literal: string): string {
  let s = literal
  let sign = ''
  if (s.startsWith('-')) {
    sign = '-'
    s = s.slice(1)
  }
  let exponent = 0
  const e = s.search(/[eE]/)
  if (e >= 0) {
    exponent = Number(s.slice(e + 1))
    s = s.slice(0, e)
  }
  const dot = s.indexOf('.')
  const integer = dot < 0 ? s : s.slice(0, dot)
  let digits = integer + (dot < 0 ? '' : s.slice(dot + 1))
  let point = integer.length + exponent
  const leading = /^0*/.exec(digits)![0].length
  digits = digits.slice(leading)
  point -= leading
  digits = digits.replace(/0+$/, '')
  return digits === '' ? '0' : `${sign}${digits}e${point}`
}

/** True when `literal` (a JSON number) parses to a double whose value is exactly the literal's. */
export function isExactNumber(literal: string): boolean {
  // Up to 15 significant digits without an exponent: every such decimal round-trips through a double.
  if (literal.length <= 15 && !/[eE]/.test(literal)) return true
  const value = Number(literal)
  if (!Number.isFinite(value)) return false
  return decimalForm(literal) === decimalForm(String(value))
}

const isNumberChar = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45

/**
 * One pass over a JSON text, without parsing it: throws when objects and arrays nest deeper than
 * `maxDepth`, or when a number cannot be represented exactly. Brackets and digits inside strings
 * are skipped.
 */
export function checkJsonText(text: string, maxDepth: number): void {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // Skip the string, escapes included.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === 0x5c) i++
        else if (d === 0x22) break
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw new JsonTooDeepError(maxDepth)
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      const start = i
      let exponent = false
      while (i + 1 < text.length && isNumberChar(text.charCodeAt(i + 1))) {
        i++
        if ((text.charCodeAt(i) | 0x20) === 0x65) exponent = true
      }
      if (exponent || i - start >= 15) {
        const literal = text.slice(start, i + 1)
        // Malformed literals are left to the parser, which refuses them as invalid JSON.
        if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(literal) && !isExactNumber(literal)) throw new InexactNumberError(literal)
      }
    }
  }
}

/** Deepest nesting check alone (kept for callers that only need it). */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  try {
    checkJsonText(text, limit)
    return false
  } catch (err) {
    return err instanceof JsonTooDeepError
  }
}

/** UTF-8 bytes to a string, refusing invalid sequences (overlong forms, lone surrogates…). */
export function decodeUtf8(bytes: Buffer, where?: string): string {
  if (!isUtf8(bytes)) throw new InvalidEncodingError(where)
  return bytes.toString('utf8')
}

/** Parse a JSON text under the rules above; `invalid` is the message for a syntax error. */
export function parseJsonText(text: string, maxDepth: number, invalid?: string): unknown {
  checkJsonText(text, maxDepth)
  try {
    return sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const forbidden = err instanceof SyntaxError && /prototype/i.test(err.message)
    throw new InvalidJsonError(forbidden ? 'The request body uses a forbidden key (__proto__ or constructor.prototype)' : invalid)
  }
}

/** Parse JSON bytes under the rules above. */
export function parseJsonBytes(bytes: Buffer, maxDepth: number): unknown {
  return parseJsonText(decodeUtf8(bytes), maxDepth)
}

/**
 * An `application/x-www-form-urlencoded` body with strict UTF-8: URLSearchParams would turn
 * invalid percent-encoded bytes into U+FFFD without a word.
 */
export function parseForm(bytes: Buffer): URLSearchParams {
  const text = decodeUtf8(bytes)
  const params = new URLSearchParams()
  if (text === '') return params
  for (const pair of text.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeFormComponent(eq < 0 ? pair : pair.slice(0, eq))
    const value = decodeFormComponent(eq < 0 ? '' : pair.slice(eq + 1))
    params.append(name, value)
  }
  return params
}

function decodeFormComponent(component: string): string {
  const plain = component.replaceAll('+', ' ')
  if (!plain.includes('%')) return plain
  // Percent-escapes to bytes (a malformed escape stays as typed, as browsers do), then strict UTF-8.
  const bytes = Buffer.from(plain.replace(/%(?![0-9a-fA-F]{2})/g, '%25'), 'utf8')
  const out = Buffer.allocUnsafe(bytes.length)
  let n = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25) {
      out[n++] = parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16)
      i += 2
    } else {
      out[n++] = bytes[i]!
    }
  }
  return decodeUtf8(out.subarray(0, n), 'A form field')
}
