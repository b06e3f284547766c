// The yardsticks searchtrack is measured against, each in a process of its own so that its CPU and
// memory are its own. Usage: node bench/reference-server.mjs <bare|naive|core>, PORT and
// DATABASE_URL from the environment; prints "listening" once it accepts requests.
//
//   bare   Fastify 5 with no logger: parses the JSON body and answers 200. The HTTP ceiling.
//   naive  the same, plus one INSERT per request in its own transaction (autocommit) into the same
//          `events` table: what most analytics servers do. No auth lookup, no visits: it is the
//          cheapest possible durable handler, which favours it.
//   core   the real searchtrack app (app plugin, serverOptions, auth, group-commit writer) with a
//          minimal search route in place of the Coveo adapter: the storage path over HTTP, so the
//          write path can be measured before the protocol adapters are merged.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import pg from 'pg'
import { v7 as uuidv7 } from 'uuid'

const mode = process.argv[2]
const port = Number(process.env.PORT)
const SEARCH = '/rest/ua/v15/analytics/search'

function bearer(request) {
  const header = request.headers.authorization
  return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : null
}

let server
if (mode === 'bare') {
  server = Fastify({ logger: false })
  server.post(SEARCH, async (request, reply) => {
    if (!bearer(request)) return reply.code(401).send({ message: 'No access token', type: 'MissingToken' })
    const body = request.body
    return { searchEventUid: randomUUID(), visitorId: request.query.visitor ?? null, language: body.language }
  })
} else if (mode === 'naive') {
  server = Fastify({ logger: false })
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PG_POOL_MAX ?? 10) })
  server.addHook('onClose', () => pool.end())
  server.post(SEARCH, async (request, reply) => {
    if (!bearer(request)) return reply.code(401).send({ message: 'No access token', type: 'MissingToken' })
    const body = request.body
    const receivedAt = new Date()
    const eventId = uuidv7({ msecs: receivedAt.getTime() })
    await pool.query(
      `INSERT INTO events (org_id, event_id, received_at, protocol, type, visitor_id, language, query_text,
         action_cause, response_time_ms, search_query_uid, user_agent)
       VALUES ($1, $2, $3, 'coveo', 'search', $4, $5, $6, $7, $8, $9, $10)`,
      ['bench', eventId, receivedAt, request.query.visitor ?? null, body.language, body.queryText, body.actionCause,
        body.responseTime, body.searchQueryUid, request.headers['user-agent'] ?? null],
    )
    return { searchEventUid: eventId, visitorId: request.query.visitor ?? null }
  })
} else if (mode === 'core') {
  const { app, serverOptions } = await import('../dist/app.js')
  const { limitHeapGrowth } = await import('../dist/heap.js')
  limitHeapGrowth() // the service's own process setting, as in dist/main.js
  const { loadConfig } = await import('../dist/config.js')
  const { newEvent } = await import('../dist/events/event.js')
  const { classifyUserAgent } = await import('../dist/events/enrich.js')
  const config = loadConfig()
  const options = serverOptions(config)
  // BENCH_NO_REQUEST_LOG=1 measures what per-request logging costs (a proposal for app.ts).
  if (process.env.BENCH_NO_REQUEST_LOG === '1') options.disableRequestLogging = true
  server = Fastify(options)
  await server.register(app, { config, databaseUrl: config.DATABASE_URL })
  const toEvent = (orgId, request, body) => {
    const agent = classifyUserAgent(request.headers['user-agent'])
    return newEvent({
      orgId, protocol: 'coveo', type: 'search', visitorId: request.query.visitor ?? randomUUID(),
      language: body.language, queryText: body.queryText, actionCause: body.actionCause,
      responseTimeMs: body.responseTime, searchQueryUid: body.searchQueryUid,
      userAgent: request.headers['user-agent'] ?? null, ...agent,
    })
  }
  server.post('/bench/search', async (request) => {
    const principal = await server.auth.require(bearer(request), 'analytics:push')
    const [event] = await server.writer.write([toEvent(principal.orgId, request, request.body)])
    return { searchEventUid: event.eventId, visitId: event.visitId, visitorId: event.visitorId }
  })
  server.post('/bench/searches', async (request) => {
    const principal = await server.auth.require(bearer(request), 'analytics:push')
    const events = await server.writer.write(request.body.map((body) => toEvent(principal.orgId, request, body)))
    return { searchEventResponses: events.map((e) => ({ searchEventUid: e.eventId, visitId: e.visitId, visitorId: e.visitorId })) }
  })
} else {
  process.stderr.write('usage: reference-server.mjs <bare|naive|core>\n')
  process.exit(2)
}

process.on('SIGTERM', () => {
  server.close().then(() => process.exit(0), () => process.exit(1))
})
await server.listen({ port, host: '127.0.0.1' })
process.stdout.write('listening\n')
