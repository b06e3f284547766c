import type { FastifyInstance } from 'fastify'
import { decodeUtf8, parseForm, parseJsonText } from '../../http/json.js'
import { CoveoError } from './errors.js'

/**
 * A form-urlencoded body, as navigator.sendBeacon sends it: `{type}Event=<url-encoded JSON>`,
 * sometimes with `access_token=` (the collect beacon). Kept as a marker class so the handler can
 * tell it from a JSON body.
 */
export class FormBody {
  constructor(
    readonly params: URLSearchParams,
    /** The root's JSON nesting limit, for the JSON inside the form field. */
    readonly maxDepth: number,
  ) {}
}

/**
 * Parsers for the beacon content types, scoped to this plugin: the root keeps its own
 * application/json parser. A text/plain body is either JSON or a form string, depending on what a
 * client put in the Blob. Both go through the same JSON rules as a JSON body (http/json.ts).
 */
export function addBeaconParsers(app: FastifyInstance): void {
  const maxDepth = app.config.JSON_MAX_DEPTH
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, new FormBody(parseForm(body as Buffer), maxDepth))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const text = decodeUtf8(body as Buffer).trim()
      if (text.startsWith('{') || text.startsWith('[')) done(null, parseJsonText(text, maxDepth))
      else done(null, new FormBody(parseForm(Buffer.from(text)), maxDepth))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
}

/** The JSON payload of a request, from a JSON body or from the form field `{type}Event`. */
export function eventPayload(body: unknown, type: string): unknown {
  if (!(body instanceof FormBody)) {
    if (body === undefined || body === null) {
      throw new CoveoError(400, 'MissingParameter', `The request has no body: send the ${type} event as JSON`)
    }
    return body
  }
  // `searches` beacons are not sent by the known clients; accept both names rather than guess.
  const names = type === 'searches' ? ['searchesEvent', 'searchEvent'] : [`${type}Event`]
  const name = names.find((n) => body.params.has(n))
  if (!name) throw new CoveoError(400, 'MissingParameter', `Form field "${names[0]}" is required`)
  return parseJsonText(body.params.get(name)!, body.maxDepth, `Form field "${name}" is not valid JSON`)
}

export function formAccessToken(body: unknown): string | undefined {
  return body instanceof FormBody ? (body.params.get('access_token') ?? undefined) : undefined
}
