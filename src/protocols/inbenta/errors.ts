import { HttpError } from '../../errors.js'

/** An error in Inbenta's shape: `{"error": {"code": <http status>, "message"}}`. */
export class InbentaError extends HttpError {
  constructor(statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(statusCode, STATUS_NAMES[statusCode] ?? 'Error', message, headers)
  }

  /** A 403 that refuses the credentials sent (see isCredentialFailure). */
  static refused(message: string): InbentaError {
    const err = new InbentaError(403, message)
    err.credentialFailure = true
    return err
  }
}

const STATUS_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  422: 'InvalidCode',
  429: 'TooManyRequests',
}

export const SESSION_EXPIRED = 'Session expired: open a new session with POST /v1/tracking/session'

export const invalidCode = (what: string) => new InbentaError(422, `Invalid ${what}: it was altered, forged or minted for another instance`)
