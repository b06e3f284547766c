import { mkdtemp, rm, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { startThrowawayPostgres } from '../../scripts/throwaway-postgres.mjs'
import pg from 'pg'
import type { Test } from 'tap'
import { app, serverOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { newEvent, type Clock } from '../../src/events/event.js'
import { Writable } from 'node:stream'
import { migrate } from '../../src/store/migrate.js'

/**
 * A test-only route standing in for the protocol adapters (empty on this branch): it turns a
 * body of visitor ids into events and answers once the writer has them, as an adapter does.
 */
export const testRoutes: FastifyPluginAsync = async (server) => {
  server.post<{ Body: { org: string; visitors: string[]; queryText?: string } }>(
    '/test/events',
    {
      schema: {
        body: {
          type: 'object',
          required: ['org', 'visitors'],
          properties: {
            org: { type: 'string' },
            visitors: { type: 'array', items: { type: 'string' }, maxItems: 100 },
            queryText: { type: 'string' },
          },
        },
      },
    },
    async (request) => {
      const events = request.body.visitors.map((visitorId) =>
        newEvent({ orgId: request.body.org, protocol: 'coveo', type: 'search', visitorId, queryText: request.body.queryText ?? 'q' }, server.clock),
      )
      const written = await server.writer.write(events)
      return { eventIds: written.map((e) => e.eventId), visitIds: written.map((e) => e.visitId) }
    },
  )
}

export async function tempDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  // Embedded clusters run as the `postgres` user when we are root: it must enter the directory.
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** The app plus the test route, on `databaseUrl`, with its own DATA_DIR (or the one given). */
export async function buildAppWithTestRoute(
  t: Test,
  databaseUrl: string,
  env: Record<string, string> = {},
  options: { logs?: CapturedLogs; clock?: Clock; machineTime?: () => number } = {},
): Promise<{ app: FastifyInstance; config: Config }> {
  const dataDir = env.DATA_DIR ?? (await tempDir(t, 'searchtrack-rel-data-'))
  const config = loadConfig({ LOG_LEVEL: options.logs ? 'trace' : 'silent', BOOTSTRAP_DEFAULT_ORG: 'false', ...env, DATA_DIR: dataDir })
  const base = serverOptions(config)
  const server = Fastify(options.logs ? { ...base, logger: { ...(base.logger as object), stream: options.logs.stream } } : base)
  await server.register(app, { config, databaseUrl, clock: options.clock, machineTime: options.machineTime })
  await server.register(testRoutes)
  await server.ready()
  t.teardown(() => server.close())
  return { app: server, config }
}

export { freePort } from '../helpers/process.js'

export interface CapturedLogs {
  stream: Writable
  /** Every line written so far, parsed. */
  lines: Array<Record<string, unknown>>
  text(): string
}

/** A log destination that keeps every line, for assertions on what was (not) logged. */
export function captureLogs(): CapturedLogs {
  const raw: string[] = []
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue
        raw.push(line)
        lines.push(JSON.parse(line) as Record<string, unknown>)
      }
      callback()
    },
  })
  return { stream, lines, text: () => raw.join('\n') }
}

/** A PostgreSQL of this test's own, migrated, so the test can stop and start it. */
export async function ownPostgres(t: Test): Promise<{ url: string; stop(): Promise<void>; start(): Promise<void> }> {
  const db = await startThrowawayPostgres({ prefix: 'searchtrack-rel-pg-' })
  t.teardown(() => db.remove())
  const pool = new pg.Pool({ connectionString: db.url, max: 1 })
  await migrate(pool)
  await pool.end()
  return db
}

export async function countByEventId(url: string, ids: string[]): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ event_id: string; n: number }>(
      'SELECT event_id::text, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[]) GROUP BY 1',
      [ids],
    )
    return new Map(rows.map((r) => [r.event_id, r.n]))
  } finally {
    await client.end()
  }
}

/** Every id present exactly once: returns the ids that are missing or duplicated. */
export async function notExactlyOnce(url: string, ids: string[]): Promise<string[]> {
  const counts = await countByEventId(url, ids)
  return ids.filter((id) => counts.get(id) !== 1)
}
