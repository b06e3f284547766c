import { HttpError } from '../../errors.js'

/** A request-level refusal, rendered in the v15 shape `{"message", "type"}`. */
export class EventProtocolError extends HttpError {
  override name = 'EventProtocolError'
}
