import t from 'tap'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { createTestDatabase } from '../helpers/db.js'
import { freePort, notExactlyOnce, ownPostgres, tempDir } from './helpers.js'
import { startLoad, until } from './load.js'
import { startService } from './process.js'

// dist/ is built by `npm test` (test/run.mjs) before any test file starts; building here too
// would rewrite files that other test files' processes are loading.

t.test('kill -9 under load, restart: every acknowledged event is there', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, DATA_DIR: await tempDir(t, 'searchtrack-kill-') }
  const port = await freePort()
  const service = await startService(env, port)
  const load = startLoad(`${service.base}/test/events`, { org: 'acme', workers: 16 })
  await load.ackedMore(1500)
  service.signal('SIGKILL')
  t.equal((await service.exited).signal, 'SIGKILL')
  const result = await load.stop()

  const restarted = await startService(env, port)
  t.teardown(() => restarted.signal('SIGTERM'))
  t.same(await notExactlyOnce(url, result.acked), [], `all ${result.acked.length} acknowledged events are stored once`)
  t.notOk(result.failures.some((f) => f.status >= 500), 'no 5xx before the kill')
})

t.test('kill -9 while spooling (database down), restart with the database back: the spool is replayed', async (t) => {
  const db = await ownPostgres(t)
  const env = { DATABASE_URL: db.url, DATA_DIR: await tempDir(t, 'searchtrack-kill-spool-'), SPOOL_RETRY_MS: '100' }
  const port = await freePort()
  const service = await startService(env, port)
  const load = startLoad(`${service.base}/test/events`, { org: 'acme', workers: 16 })
  await load.ackedMore(300)
  await db.stop()
  await load.ackedMore(800)
  const ready = (await (await fetch(`${service.base}/ready`)).json()) as { status: string; spool: { state: string } }
  t.match(ready, { status: 'degraded', spool: { state: 'spooling' } })
  service.signal('SIGKILL')
  await service.exited
  const result = await load.stop()
  t.notOk(result.failures.some((f) => f.status >= 500), 'no 5xx while the spool had room')

  await db.start()
  const restarted = await startService(env, port)
  t.teardown(() => restarted.signal('SIGTERM'))
  await until(async () => {
    const body = (await (await fetch(`${restarted.base}/ready`)).json()) as { status: string; spool: { state: string } }
    return body.status === 'ready' && body.spool.state === 'idle'
  }, 'the spool of the killed process to be replayed')
  t.same(await notExactlyOnce(db.url, result.acked), [], `all ${result.acked.length} acknowledged events are stored once`)
})

t.test('SIGTERM under load: exit 0, nothing acknowledged lost', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, DATA_DIR: await tempDir(t, 'searchtrack-term-') }
  const service = await startService(env, await freePort())
  const load = startLoad(`${service.base}/test/events`, { org: 'acme', workers: 16 })
  await load.ackedMore(1500)
  service.signal('SIGTERM')
  const exit = await service.exited
  const result = await load.stop()
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `clean exit (after ${exit.ms} ms; close-with-grace exits 1 past 9 s)`)
  t.same(await notExactlyOnce(url, result.acked), [], `all ${result.acked.length} acknowledged events are stored once`)
  const failures = result.failures.filter((f) => f.status !== 503)
  t.same(failures, [], 'requests during shutdown got at most 503 ShuttingDown')
})

t.test('SIGTERM with the embedded PostgreSQL: the writer flushes before the database stops', async (t) => {
  const dataDir = await tempDir(t, 'searchtrack-term-embedded-')
  const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) }
  const port = await freePort()
  const service = await startService(env, port)
  const load = startLoad(`${service.base}/test/events`, { org: 'acme', workers: 16 })
  await load.ackedMore(1500)
  service.signal('SIGTERM')
  const exit = await service.exited
  const result = await load.stop()
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `clean exit (after ${exit.ms} ms)`)
  t.notMatch(service.output(), /batch failed/, 'no batch cut off by the database stopping')

  // Start again on the same data directory (its embedded cluster) and look.
  const restarted = await startService(env, port)
  const creds = JSON.parse(await readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { user: string; password: string }
  const url = `postgres://${creds.user}:${encodeURIComponent(creds.password)}@127.0.0.1:${env.EMBEDDED_PG_PORT}/postgres`
  await until(async () => {
    const body = (await (await fetch(`${restarted.base}/ready`)).json()) as { spool: { state: string } }
    return body.spool.state === 'idle'
  }, 'any spooled batch to be replayed')
  t.same(await notExactlyOnce(url, result.acked), [], `all ${result.acked.length} acknowledged events are stored once`)
  restarted.signal('SIGTERM')
  t.equal((await restarted.exited).code, 0)
})
