import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { app, serverOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { Clock } from '../../src/events/event.js'
import type { CreatedKey, Privilege } from '../../src/auth/keys.js'
import { createTestDatabase } from './db.js'

export interface TestApp {
  app: FastifyInstance
  databaseUrl: string
  config: Config
}

/** A manual clock: tests move time forward instead of sleeping. */
export function manualClock(start = new Date('2026-06-15T10:00:00.000Z')) {
  let now = start.getTime()
  const clock: Clock & { advance(ms: number): void; set(d: Date): void } = Object.assign(() => new Date(now), {
    advance(ms: number) {
      now += ms
    },
    set(d: Date) {
      now = d.getTime()
    },
  })
  return clock
}

/** The real app on its own migrated database, closed when the test ends. */
export async function buildTestApp(
  t: Test,
  options: {
    env?: Record<string, string>
    clock?: Clock
    databaseUrl?: string
    /** Runs on the bare server before the app is registered (hooks such as onRoute). */
    beforeRegister?: (server: FastifyInstance) => void
  } = {},
): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(t))
  // Each app owns its DATA_DIR: the outage spool in it is locked to one app at a time.
  const dataDir = await mkdtemp(path.join(tmpdir(), 'searchtrack-test-data-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({ LOG_LEVEL: 'silent', BOOTSTRAP_DEFAULT_ORG: 'false', DATA_DIR: dataDir, ...options.env })
  const server = Fastify(serverOptions(config))
  options.beforeRegister?.(server)
  await server.register(app, { config, databaseUrl, clock: options.clock })
  await server.ready()
  t.teardown(() => server.close())
  return { app: server, databaseUrl, config }
}

/** Create an org (if needed) and a key in it. */
export async function createKey(
  server: FastifyInstance,
  orgId: string,
  privileges: Privilege[] = ['analytics:push'],
  platformOrgs: string[] | null = null,
): Promise<CreatedKey> {
  if (!(await server.keys.getOrg(orgId))) await server.keys.createOrg(orgId)
  return server.keys.createKey({ orgId, privileges, platformOrgs })
}

/** A listening server on 127.0.0.1 for real clients; returns its base URL. */
export async function listen(server: FastifyInstance): Promise<string> {
  await server.listen({ port: 0, host: '127.0.0.1' })
  const address = server.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  return `http://127.0.0.1:${address.port}`
}
