import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { truncate } from '../../events/truncate.js'

/**
 * Keys derived from the org's secret, one per purpose (HKDF-SHA256 with a distinct `info`): a key
 * that signs tracking codes can never verify an access token or a Coveo search token, and no new
 * secret has to be stored. Rotating the org's secret invalidates all of them at once.
 */
export type KeyPurpose = 'tracking-codes' | 'access-token'

const SALT = Buffer.from('searchtrack/inbenta')

export function deriveKey(orgSecret: string, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', orgSecret, SALT, `searchtrack/inbenta/${purpose}`, 32))
}

/** What a code stands for. `k` tells codes apart, so a rateCode cannot pass for a clickCode. */
export type CodeKind = 'search' | 'click' | 'rate' | 'external' | 'session'

export interface CodePayload {
  /** Kind of code. */
  k: CodeKind
  /** Organization it was minted for. */
  o: string
  [field: string]: unknown
}

/**
 * Self-contained, tamper-evident codes: `base64url(JSON payload).base64url(HMAC-SHA256)`. A click
 * is tied to its search, result and position without a lookup; anything altered, forged or
 * minted for another org fails the MAC.
 */
export function mintCode(key: Buffer, payload: CodePayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  return `${body}.${mac(key, body)}`
}

/**
 * Longest code accepted. Codes are bounded well under it whatever the results hold: ids are
 * limited by the search body's schema, and the descriptive fields are cut to CODE_TEXT_BUDGET
 * (a click code from a long title in a script of three-byte characters still fits).
 */
export const CODE_MAX_LENGTH = 8192

/** Bytes of JSON each descriptive field of a result may take in a code. */
const CODE_TEXT_BUDGET = { t: 512, u: 1024, s: 256 } as const

/** `value` cut (never split inside a character) until its JSON text fits in `bytes`. */
function fitJson(value: string | undefined, bytes: number): string | undefined {
  if (value === undefined) return undefined
  let text = value
  while (Buffer.byteLength(JSON.stringify(text)) > bytes) text = truncate(text, Math.floor(text.length * 0.9))
  return text
}

/** A result's title, URL and source as a code carries them (see CODE_TEXT_BUDGET). */
export function codeText(result: { title?: string; url?: string; source?: string }): { t?: string; u?: string; s?: string } {
  return { t: fitJson(result.title, CODE_TEXT_BUDGET.t), u: fitJson(result.url, CODE_TEXT_BUDGET.u), s: fitJson(result.source, CODE_TEXT_BUDGET.s) }
}

/** The payload if `code` was minted with `key` for `orgId` as `kind`; else null. */
export function readCode(key: Buffer, code: unknown, orgId: string, kind: CodeKind): CodePayload | null {
  if (typeof code !== 'string' || code.length > CODE_MAX_LENGTH) return null
  const dot = code.indexOf('.')
  if (dot <= 0) return null
  const body = code.slice(0, dot)
  const given = Buffer.from(code.slice(dot + 1), 'base64url')
  const expected = Buffer.from(mac(key, body), 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
  let payload: unknown
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return null
  }
  if (typeof payload !== 'object' || payload === null) return null
  const p = payload as CodePayload
  return p.o === orgId && p.k === kind ? p : null
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url')
}
