import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { clientFields } from '../../events/enrich.js'
import { capCustomData } from '../../events/custom-data.js'
import { newEvent, type EventInput, type EventType, type TrackedEvent } from '../../events/event.js'
import { CLICK_TYPES, DATA_KEY_PATTERN, RATE_TYPES, SEARCH_ACTION, canonicalType, type ActionDefinition } from './actions.js'
import { authenticate, authenticateEarly, header, type InbentaPrincipal } from './access.js'
import { codeText, deriveKey, mintCode, readCode, type CodePayload } from './codes.js'
import { InbentaError, SESSION_EXPIRED, invalidCode } from './errors.js'
import { DataKeyStore } from './priorities.js'
import { ErrorBody, EventBody, SearchBody, SearchResponse, SessionResponse, TrackedResponse, UserInfoBody } from './schemas.js'

/**
 * A session token outlives any one session (after 30 minutes of silence the same token opens a
 * new one), but not forever: a day after it was issued the client is told to open a new session.
 */
const SESSION_TOKEN_MAX_AGE_MS = 24 * 60 * 60 * 1000

/** Session tokens are visitors to the writer: its visits (renewed after the visit timeout) are the sessions. */
const VISITOR_PREFIX = 'inbenta:'

interface Session {
  tokenId: string
  visitorId: string
}

interface TrackingContext {
  principal: InbentaPrincipal
  codeKey: Buffer
  session: Session | null
  /** The org's data keys and priorities, read when the call needs them. */
  priorities: () => Promise<Map<string, number>>
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }

const textHeader = (request: FastifyRequest, name: string) => header(request, name)?.slice(0, 256)

function sessionTokenOf(request: FastifyRequest): string | undefined {
  // Inbenta's own code sends the token both bare and as `Bearer <token>`.
  return header(request, 'x-inbenta-session')?.replace(/^Bearer\s+/i, '') || undefined
}

async function trackingContext(app: FastifyInstance, request: FastifyRequest, dataKeys: DataKeyStore): Promise<TrackingContext> {
  const principal = await authenticate(request, 'analytics:push')
  const org = await app.keys.getOrg(principal.orgId)
  if (!org) throw new InbentaError(403, 'Unknown organization')
  const codeKey = deriveKey(org.jwtSecret, 'tracking-codes')
  let session: Session | null = null
  const token = sessionTokenOf(request)
  if (token) {
    const payload = readCode(codeKey, token, principal.orgId, 'session')
    const issuedAt = payload?.t
    if (!payload || typeof payload.s !== 'string' || typeof issuedAt !== 'number' || app.clock().getTime() - issuedAt > SESSION_TOKEN_MAX_AGE_MS) {
      throw new InbentaError(400, SESSION_EXPIRED)
    }
    session = { tokenId: payload.s, visitorId: VISITOR_PREFIX + payload.s }
  }
  let cached: Promise<Map<string, number>> | undefined
  return { principal, codeKey, session, priorities: () => (cached ??= dataKeys.priorities(principal.orgId)) }
}

function requireSession(ctx: TrackingContext): Session {
  if (!ctx.session) throw new InbentaError(400, 'Missing x-inbenta-session header: open a session with POST /v1/tracking/session')
  return ctx.session
}

/**
 * One event per action. It is in the atomic log when its action has a log type, and in the
 * session log (visitor = the session token, visit = the session) when it has a data key and the
 * call carries a session: the same row serves both, told apart by `extra.logType`/`extra.dataKey`.
 */
async function buildEvent(
  app: FastifyInstance,
  request: FastifyRequest,
  ctx: TrackingContext,
  action: ActionDefinition,
  type: EventType,
  fields: Partial<EventInput>,
): Promise<{ event: TrackedEvent; logs: Array<'atomic' | 'session'> }> {
  const inSession = ctx.session !== null && action.dataKey !== null
  const logs: Array<'atomic' | 'session'> = []
  if (action.logType) logs.push('atomic')
  if (inSession) logs.push('session')
  if (logs.length === 0) requireSession(ctx)
  const userAgent = header(request, 'user-agent') ?? null
  const event = newEvent(
    {
      orgId: ctx.principal.orgId,
      protocol: 'inbenta',
      type,
      visitorId: inSession ? ctx.session!.visitorId : null,
      ...clientFields(userAgent, request.ip),
      eventType: action.dataKey ?? action.logType,
      ...fields,
      extra: {
        ...fields.extra,
        logType: action.logType ?? undefined,
        dataKey: inSession ? action.dataKey : undefined,
        priority: inSession ? ((await ctx.priorities()).get(action.dataKey!) ?? 0) : undefined,
        keyId: ctx.principal.keyId,
        env: textHeader(request, 'x-inbenta-env'),
        source: textHeader(request, 'x-inbenta-source'),
        userType: textHeader(request, 'x-inbenta-user-type'),
      },
    },
    app.clock,
  )
  return { event, logs }
}

/** Resolves once the events are committed: only then may the client be answered. */
async function record(app: FastifyInstance, events: TrackedEvent[]): Promise<TrackedEvent[]> {
  const written = await app.writer.write(events)
  return written
}

function codeFields(payload: CodePayload): Partial<EventInput> {
  const str = (v: unknown) => (typeof v === 'string' ? v : null)
  return {
    searchQueryUid: str(payload.q),
    documentId: payload.d === undefined ? null : String(payload.d),
    documentPosition: typeof payload.p === 'number' ? payload.p : null,
    documentTitle: str(payload.t),
    documentUrl: str(payload.u),
    sourceName: str(payload.s),
  }
}

function withoutKeys(data: Record<string, unknown>, keys: string[]): Record<string, unknown> | null {
  const rest = Object.fromEntries(Object.entries(data).filter(([k]) => !keys.includes(k)))
  return Object.keys(rest).length > 0 ? rest : null
}

function stringField(data: Record<string, unknown>, name: string, type: string): string {
  const value = data[name]
  if (typeof value !== 'string' || value === '') throw new InbentaError(400, `A ${type} event needs data.${name} (a string)`)
  return value
}

const SMALLINT = 32767

/**
 * `data` is free-form: kept as sent, under the same cap as Coveo's customData (32,500 characters
 * of JSON; the last keys past it are dropped and logged), so one call cannot store megabytes.
 */
const DATA_JSON_MAX = 32_500

function capData(request: FastifyRequest, data: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (data === undefined) return null
  const capped = capCustomData(data, DATA_JSON_MAX)
  if (capped.dropped.length > 0) request.log.info({ dropped: capped.dropped.slice(0, 20) }, 'inbenta data keys dropped past the size cap')
  return capped.data
}

/** `/v1/tracking/…` and the `/v1/inbtrck/…` aliases Inbenta's knowledge widgets call. */
export const trackingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const dataKeys = new DataKeyStore(app.db)
  const early = authenticateEarly('analytics:push')

  for (const path of ['/tracking/session', '/inbtrck/session']) {
    app.post(path, { onRequest: early, schema: { response: { 200: SessionResponse, ...errors } } }, async (request) => {
      const ctx = await trackingContext(app, request, dataKeys)
      const tokenId = randomUUID()
      const sessionToken = mintCode(ctx.codeKey, { k: 'session', o: ctx.principal.orgId, s: tokenId, t: app.clock().getTime() })
      ctx.session = { tokenId, visitorId: VISITOR_PREFIX + tokenId }
      const { event } = await buildEvent(app, request, ctx, { logType: null, dataKey: 'START' }, 'session', {})
      const [written] = await record(app, [event])
      return { sessionToken, sessionId: written!.visitId! }
    })
  }

  for (const path of ['/tracking/session/user', '/inbtrck/session/user']) {
    app.post(path, { onRequest: early, schema: { body: UserInfoBody, response: { 200: TrackedResponse, ...errors } } }, async (request) => {
      const ctx = await trackingContext(app, request, dataKeys)
      requireSession(ctx)
      const { event, logs } = await buildEvent(app, request, ctx, { logType: null, dataKey: 'USER_INFO' }, 'session', {
        customData: capData(request, request.body.data),
      })
      const [written] = await record(app, [event])
      return { logs, sessionId: written!.visitId }
    })
  }

  for (const path of ['/tracking/events', '/inbtrck/events']) {
    app.post(path, { onRequest: early, schema: { body: EventBody, response: { 200: TrackedResponse, ...errors } } }, async (request) => {
      const ctx = await trackingContext(app, request, dataKeys)
      const { type } = request.body
      const data = capData(request, request.body.data) ?? {}
      let built: Awaited<ReturnType<typeof buildEvent>>

      // Own properties only: `constructor` or `toString` must not find Object.prototype's.
      const clickAction = Object.hasOwn(CLICK_TYPES, type) ? CLICK_TYPES[type] : undefined
      const rateAction = Object.hasOwn(RATE_TYPES, type) ? RATE_TYPES[type] : undefined
      if (clickAction) {
        const payload = readCode(ctx.codeKey, stringField(data, 'code', type), ctx.principal.orgId, 'click')
        if (!payload) throw invalidCode('clickCode')
        built = await buildEvent(app, request, ctx, clickAction, 'click', {
          ...codeFields(payload),
          actionCause: type,
          customData: withoutKeys(data, ['code']),
        })
      } else if (rateAction) {
        // A content rating echoes the result's rateCode; a search rating rates the whole list,
        // so it echoes the searchCode.
        const kind = type === 'rate' ? 'rate' : 'search'
        const payload = readCode(ctx.codeKey, stringField(data, 'code', type), ctx.principal.orgId, kind)
        if (!payload) throw invalidCode(kind === 'rate' ? 'rateCode' : 'searchCode')
        const value = data.value
        if (typeof value !== 'string' && typeof value !== 'number') {
          throw new InbentaError(400, `A ${type} event needs data.value (the rating id)`)
        }
        if (data.comment !== undefined && typeof data.comment !== 'string') {
          throw new InbentaError(400, 'data.comment must be a string')
        }
        built = await buildEvent(app, request, ctx, rateAction, canonicalType(rateAction), {
          ...codeFields(payload),
          actionCause: type,
          eventValue: String(value).slice(0, 256),
          feedbackScore: Number.isInteger(value) && Math.abs(value as number) <= SMALLINT ? (value as number) : null,
          customData: withoutKeys(data, ['code', 'value']),
        })
      } else if (type === 'external_click') {
        const search = readCode(ctx.codeKey, stringField(data, 'searchCode', type), ctx.principal.orgId, 'search')
        if (!search) throw invalidCode('searchCode')
        const external = readCode(ctx.codeKey, stringField(data, 'externalCode', type), ctx.principal.orgId, 'external')
        if (!external) throw invalidCode('externalCode')
        const instance = typeof external.i === 'string' ? external.i : 'external'
        // Logged under the external matching type named after the instance (INSTANCE_B), and as
        // a click in the session so that it counts for the session's result.
        const action = { logType: instance.toUpperCase(), dataKey: 'CLICK_MATCH' }
        built = await buildEvent(app, request, ctx, action, 'click', {
          ...codeFields(external),
          searchQueryUid: typeof search.q === 'string' ? search.q : null,
          actionCause: type,
          customData: withoutKeys(data, ['searchCode', 'externalCode']),
          extra: { instance, externalSearchQueryUid: external.q },
        })
      } else {
        if (!DATA_KEY_PATTERN.test(type) || !(await ctx.priorities()).has(type)) {
          throw new InbentaError(400, `Unknown event type ${JSON.stringify(type)}: use click, rate, search_rate, external_click or a data key configured for this instance`)
        }
        requireSession(ctx)
        built = await buildEvent(app, request, ctx, { logType: null, dataKey: type }, 'session', {
          customData: Object.keys(data).length > 0 ? data : null,
        })
      }
      const [written] = await record(app, [built.event])
      return { logs: built.logs, sessionId: written!.visitId }
    })
  }

  app.post('/tracking/search', { onRequest: early, schema: { body: SearchBody, response: { 200: SearchResponse, ...errors } } }, async (request) => {
    const ctx = await trackingContext(app, request, dataKeys)
    const { query, results, instance } = request.body
    const { event } = await buildEvent(app, request, ctx, SEARCH_ACTION, 'search', {
      queryText: query,
      numberOfResults: request.body.numberOfResults ?? results.length,
      responseTimeMs: request.body.responseTimeMs ?? null,
      customData: capData(request, request.body.data),
      extra: instance ? { instance } : {},
    })
    // The search's event id is its searchQueryUid: every code minted here points back to it.
    const uid = event.eventId
    event.searchQueryUid = uid
    const o = ctx.principal.orgId
    const codes = results.map((result, index) => {
      const position = result.position ?? index + 1
      const doc = { q: uid, d: result.id, p: position, ...codeText(result) }
      return {
        id: result.id,
        tracking: {
          clickCode: mintCode(ctx.codeKey, { k: 'click', o, ...doc }),
          rateCode: mintCode(ctx.codeKey, { k: 'rate', o, q: uid, d: result.id, p: position }),
          externalCode: mintCode(ctx.codeKey, { k: 'external', o, ...doc, i: instance }),
        },
      }
    })
    const [written] = await record(app, [event])
    return { tracking: { searchCode: mintCode(ctx.codeKey, { k: 'search', o, q: uid, i: instance }) }, results: codes, sessionId: written!.visitId }
  })
}
