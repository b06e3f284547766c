import { HttpError } from '../../errors.js'

/**
 * Error types of the Coveo UA Write API (`InvalidJson`, `InvalidObject`, `MissingParameter`,
 * `InvalidToken`, …): rendered as `{"message", "type"}` by the protocol's error handler.
 */
export type CoveoErrorType =
  | 'InvalidJson'
  | 'InvalidObject'
  | 'MissingParameter'
  | 'InvalidToken'
  | 'InvalidHeadersException'
  | 'MethodNotAllowed'
  | 'NotFound'

export class CoveoError extends HttpError {
  override name = 'CoveoError'
  constructor(statusCode: number, type: CoveoErrorType, message: string, headers: Record<string, string> = {}) {
    super(statusCode, type, message, headers)
  }
}
