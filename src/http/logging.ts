import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { maskIp } from '../events/enrich.js'

// Query parameters that carry credentials in some client's requests (coveo.analytics beacons put
// the token in `access_token`); their values never reach a log line.
const SECRET_PARAMS = /([?&](?:access_token|token|api_?key|apikey|secret|password)=)[^&#]*/gi

/** A URL as it may be logged: credentials in its query replaced. */
export function redactUrl(url: string): string {
  return url.includes('=') ? url.replace(SECRET_PARAMS, '$1[redacted]') : url
}

/**
 * What a log line says about a request: method, URL without credentials, and the client's
 * address masked as the events table stores it. Headers are never logged (Authorization,
 * x-inbenta-key, cookies); bodies neither (Inbenta's /auth carries a secret).
 */
export function requestLogSerializer(request: FastifyRequest) {
  return { method: request.method, url: redactUrl(request.url), remoteAddress: maskIp(request.ip) ?? undefined }
}

const OPS_ROUTES = new Set(['/health', '/ready', '/metrics'])

/**
 * One line per finished request, at a level that fits its outcome: 5xx at error (503 at warn), 4xx at info (a
 * client's mistake, worth seeing), the rest at debug — load balancers' probes of the ops routes
 * at trace — so that `info` stays readable under load. No "incoming request" line.
 */
export class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode
    // 503 is a refusal the client is told to retry (an outage, a full spool, back-pressure): a
    // warning, not an error of the service's.
    const level = error || (status >= 500 && status !== 503) ? 'error' : status === 503 ? 'warn' : status >= 400 ? 'info' : OPS_ROUTES.has(request.url.split('?')[0]!) ? 'trace' : 'debug'
    // A disabled level is a no-op in pino: the serializer only runs for lines that are written.
    reply.log[level]({ req: request, statusCode: status, ms: Math.round(reply.elapsedTime), err: error ?? undefined }, 'request completed')
  }
}
