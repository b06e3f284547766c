import type { FastifyError } from 'fastify'
import { AuthError } from './auth/errors.js'
import { isDatabaseUnavailable } from './store/failures.js'

/**
 * A failure with an HTTP status and a stable code. Protocol adapters throw these (or their own
 * subclasses); each protocol's error handler renders them in that protocol's shape.
 */
export class HttpError extends Error {
  override name = 'HttpError'
  /** The credentials sent were refused (not merely missing): counted per client address. */
  credentialFailure = false
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/**
 * An event whose values cannot be stored (a number past its column's range, an id too long for
 * an index): refused before it is acknowledged, so it can never fail a batch of other requests.
 */
export class EventValueError extends HttpError {
  override name = 'EventValueError'
  constructor(message: string) {
    super(400, 'InvalidValue', message)
  }
}

/**
 * True for an error that refuses the credentials a request carried: an unknown, revoked,
 * expired or forged token or key. A client address piling these up is guessing, and is slowed
 * down (http/limits.ts). A request without any credentials is not counted.
 */
export function isCredentialFailure(err: unknown): boolean {
  if (err instanceof AuthError) return err.code === 'InvalidToken' || err.code === 'Forbidden'
  return err instanceof HttpError && err.credentialFailure
}

/** What every protocol's error handler needs to know about any error: status, code, message. */
export interface ClassifiedError {
  statusCode: number
  code: string
  message: string
  headers: Record<string, string>
  /** True when the cause is ours, not the client's: log it, hide the details. */
  internal: boolean
}

const AUTH_STATUS: Record<AuthError['code'], number> = {
  MissingToken: 401,
  InvalidToken: 401,
  OrgRequired: 400,
  Forbidden: 403,
}

export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof HttpError) {
    return { statusCode: err.statusCode, code: err.code, message: err.message, headers: err.headers, internal: false }
  }
  if (err instanceof AuthError) {
    return { statusCode: AUTH_STATUS[err.code], code: err.code, message: err.message, headers: {}, internal: false }
  }
  const fe = err as FastifyError
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return client(400, 'InvalidJson', 'The request body is not valid JSON')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return client(413, 'PayloadTooLarge', 'The request body is too large')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return client(415, 'UnsupportedMediaType', 'Unsupported Content-Type; send application/json')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return client(400, 'InvalidRequest', 'The Content-Length header does not match the body')
    case 'FST_ERR_VALIDATION':
      return client(400, 'InvalidRequest', fe.message)
  }
  // Body parsers (JSON syntax errors, bad encodings) and other client mistakes carry a 4xx status
  // (a request the client aborted too: its ECONNRESET is the client's socket, not the database's).
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe instanceof SyntaxError ? 'InvalidJson' : 'InvalidRequest'
    return client(fe.statusCode, code, fe.message)
  }
  // A query the request needed (a key never seen before, during an outage; a pool saturated for
  // longer than its connect timeout) could not run: a retry may succeed, so 503, not 500.
  if (isDatabaseUnavailable(err)) {
    return { statusCode: 503, code: 'Unavailable', message: 'The service cannot reach its database; retry shortly', headers: { 'retry-after': '5' }, internal: false }
  }
  return { statusCode: 500, code: 'InternalError', message: 'Internal error', headers: {}, internal: true }
}

function client(statusCode: number, code: string, message: string): ClassifiedError {
  return { statusCode, code, message, headers: {}, internal: false }
}
