import t from 'tap'
import { get } from 'node:http'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import pino from 'pino'
import { adoptOrphanSpools, spoolDir } from '../../src/cluster.js'
import { loadConfig } from '../../src/config.js'
import { newEvent } from '../../src/events/event.js'
import { Spool } from '../../src/store/spool.js'
import { createTestDatabase } from '../helpers/db.js'
import { freePort, notExactlyOnce, tempDir } from './helpers.js'
import { startLoad, until } from './load.js'
import { startService } from './process.js'

/** The pid of the worker that answers a request on a connection of its own. */
function answeringPid(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${base}/test/pid`, { agent: false }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve((JSON.parse(body) as { pid: number }).pid))
    }).on('error', reject)
  })
}

async function workerPids(base: string, expected: number): Promise<Set<number>> {
  const pids = new Set<number>()
  // Connections go to the workers in turn; a few rounds find every one of them.
  await until(async () => {
    pids.add(await answeringPid(base))
    return pids.size >= expected
  }, `${expected} workers to answer`, 60_000)
  return pids
}

t.test('WORKERS=2: one port, two processes; a worker killed under load is started again; SIGTERM drains both, nothing acknowledged lost', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, DATA_DIR: await tempDir(t, 'searchtrack-cluster-'), WORKERS: '2', LOG_LEVEL: 'info' }
  const service = await startService(env, await freePort(), 'cluster')
  t.teardown(() => service.signal('SIGKILL'))
  const pids = await workerPids(service.base, 2)
  t.equal(pids.size, 2, 'two worker processes answer on the one port')
  t.notOk(pids.has(service.child.pid!), 'neither is the primary')

  const load = startLoad(`${service.base}/test/events`, { org: 'acme', workers: 16 })
  await load.ackedMore(1000)
  const [victim] = pids
  process.kill(victim!, 'SIGKILL')
  await until(() => service.output().includes('exited; starting it again'), 'the primary to restart the worker')
  await load.ackedMore(1000)
  const after = await workerPids(service.base, 2)
  t.notOk(after.has(victim!), 'a new process took the dead worker\'s place')

  service.signal('SIGTERM')
  const exit = await service.exited
  const result = await load.stop()
  t.equal(exit.code, 0, `clean exit after ${exit.ms} ms`)
  t.match(service.output(), /"msg":"shutting down: draining every worker"/)
  t.same(await notExactlyOnce(url, result.acked), [], `all ${result.acked.length} acknowledged events are stored once`)
  t.notOk(result.failures.some((f) => f.status >= 500 && f.status !== 503), 'no 5xx but 503 (a worker shutting down)')
})

t.test('the spool of a worker that no longer runs is moved to be replayed, not left behind', async (t) => {
  const dataDir = await tempDir(t, 'searchtrack-orphan-')
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
  const log = pino({ level: 'silent' })
  const options = { maxBytes: config.SPOOL_MAX_BYTES, segmentBytes: 4096, log }

  // Worker 3 of an earlier run of three spooled events; worker 1 some of its own.
  const third = await Spool.open({ ...options, dir: spoolDir(dataDir, 3) })
  const orphaned = Array.from({ length: 40 }, (_, i) => newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: `v${i}`, queryText: 'q' }))
  for (const event of orphaned) await third.append([event])
  await third.close()
  const first = await Spool.open({ ...options, dir: spoolDir(dataDir, 1) })
  await first.append([newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: 'own', queryText: 'q' })])
  await first.close()
  // Worker 2 runs now: its spool is locked, and in range anyway.
  await mkdir(spoolDir(dataDir, 2), { recursive: true })
  const second = await Spool.open({ ...options, dir: spoolDir(dataDir, 2) })
  t.teardown(() => second.close())

  await adoptOrphanSpools(config, 2, log)

  const adopted = await Spool.open({ ...options, dir: spoolDir(dataDir, 1) })
  const ids: string[] = []
  for (let segment = await adopted.oldest(); segment; segment = await adopted.oldest()) {
    for (const batch of await adopted.read(segment)) ids.push(...batch.map((e) => e.eventId))
    await adopted.remove(segment)
  }
  await adopted.close()
  t.equal(ids.length, 41, 'worker 1\'s spool holds its own event and the orphaned ones')
  t.same(orphaned.filter((e) => !ids.includes(e.eventId)), [], 'every orphaned event is among them')
  const left = await Spool.open({ ...options, dir: path.join(dataDir, 'spool-3') })
  t.notOk(left.hasRecords, 'nothing is left in the orphaned spool')
  await left.close()
})
