import type { FastifyError } from 'fastify'
import { AuthError } from './auth/errors.js'
import { WriterClosedError, QueueFullError } from './store/writer.js'
import { SpoolFullError } from './store/spool.js'

/**
 * A failure with an HTTP status and a stable code. Protocol adapters throw these (or their own
 * subclasses); each protocol's error handler renders them in that protocol's shape.
 */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
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
  if (err instanceof WriterClosedError) {
    return { statusCode: 503, code: 'ShuttingDown', message: 'The service is restarting; retry shortly', headers: { 'retry-after': '1' }, internal: false }
  }
  if (err instanceof QueueFullError) {
    return { statusCode: 503, code: 'Overloaded', message: 'Too many events are waiting to be written; retry shortly', headers: { 'retry-after': '1' }, internal: false }
  }
  if (err instanceof SpoolFullError) {
    // The database is down and the local spool is full: nothing more can be kept safely.
    return { statusCode: 503, code: 'StorageUnavailable', message: 'Events cannot be stored right now; retry later', headers: { 'retry-after': '30' }, internal: false }
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
  // Body parsers (JSON syntax errors, bad encodings) and other client mistakes carry a 4xx status.
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe instanceof SyntaxError ? 'InvalidJson' : 'InvalidRequest'
    return client(fe.statusCode, code, fe.message)
  }
  return { statusCode: 500, code: 'InternalError', message: 'Internal error', headers: {}, internal: true }
}

function client(statusCode: number, code: string, message: string): ClassifiedError {
  return { statusCode, code, message, headers: {}, internal: false }
}
