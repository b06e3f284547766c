import { HttpError } from '../errors.js'

export type ReportErrorCode =
  | 'InvalidParameter'
  | 'InvalidRange'
  | 'InvalidFilter'
  | 'InvalidMetric'
  | 'InvalidDimension'
  | 'TooManyPoints'
  | 'RangeTooLarge'
  | 'InvalidCursor'
  | 'NotFound'
  | 'NotAcceptable'
  | 'NotImplemented'
  | 'QueryTimeout'

const STATUS: Record<ReportErrorCode, number> = {
  InvalidParameter: 400,
  InvalidRange: 400,
  InvalidFilter: 400,
  InvalidMetric: 400,
  InvalidDimension: 400,
  TooManyPoints: 400,
  RangeTooLarge: 400,
  InvalidCursor: 400,
  NotFound: 404,
  NotAcceptable: 406,
  NotImplemented: 501,
  QueryTimeout: 503,
}

/** A refused report request: `{message, type, details?}`. */
export class ReportError extends HttpError {
  override name = 'ReportError'
  constructor(
    code: ReportErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) {
    super(STATUS[code], code, message, headers)
  }
}
