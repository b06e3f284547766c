import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { createTestDatabase } from '../helpers/db.js'
import { freePort, notExactlyOnce, ownPostgres, tempDir } from '../reliability/helpers.js'
import { startLoad, until } from '../reliability/load.js'

// Two containers sharing a volume: each runs the service as PID 1 of its own PID namespace, so a
// lock that names a PID cannot tell them apart. The spool's lock is the kernel's.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FIXTURE = path.join(ROOT, 'test/reliability/fixtures/serve.mjs')

function canUnshare(): boolean {
  try {
    return execFileSync('unshare', ['-p', '-f', '--mount-proc', 'sh', '-c', 'echo $$'], { encoding: 'utf8' }).trim() === '1'
  } catch {
    return false
  }
}
const skip = canUnshare() ? false : 'new PID namespaces need root (unshare -p)'

/** The built service as PID 1 of a PID namespace of its own, as in a container. */
function containerised(env: Record<string, string>, port: number) {
  const child = spawn('unshare', ['-p', '-f', '--mount-proc', '--kill-child=SIGKILL', process.execPath, FIXTURE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), BOOTSTRAP_DEFAULT_ORG: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => output, exited, base: `http://127.0.0.1:${port}` }
}

t.test('a second instance on the same DATA_DIR, in another PID namespace, refuses to start; the first loses nothing', { skip }, async (t) => {
  const url = await createTestDatabase(t)
  const dataDir = await tempDir(t, 'searchtrack-shared-volume-')
  const first = containerised({ DATABASE_URL: url, DATA_DIR: dataDir }, await freePort())
  t.teardown(() => first.child.kill('SIGKILL'))
  await until(() => fetch(`${first.base}/health`).then((r) => r.ok, () => false), 'the first instance', 120_000)
  t.match(await readFile(path.join(dataDir, 'spool', 'LOCK'), 'utf8'), /^pid 1 on /, 'the first instance runs as PID 1')

  const load = startLoad(`${first.base}/test/events`, { org: 'acme', workers: 4 })
  await load.ackedMore(100)
  const second = containerised({ DATABASE_URL: url, DATA_DIR: dataDir }, await freePort())
  t.teardown(() => second.child.kill('SIGKILL'))
  t.not(await second.exited, 0, 'the second instance exits')
  t.match(second.output(), /spool directory .* is in use by another instance \(pid 1 on /, 'naming the holder')
  await load.ackedMore(100)
  const result = await load.stop()
  t.same(await notExactlyOnce(url, result.acked), [], `all ${result.acked.length} events of the first instance are stored`)
})

t.test('once the holder is gone (its container killed), the next instance takes the volume and replays its spool', { skip }, async (t) => {
  const db = await ownPostgres(t)
  const dataDir = await tempDir(t, 'searchtrack-shared-volume-')
  const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, SPOOL_RETRY_MS: '100' }
  const first = containerised(env, await freePort())
  t.teardown(() => first.child.kill('SIGKILL'))
  await until(() => fetch(`${first.base}/health`).then((r) => r.ok, () => false), 'the first instance', 120_000)
  await db.stop()
  const load = startLoad(`${first.base}/test/events`, { org: 'acme', workers: 4 })
  await load.ackedMore(200)
  first.child.kill('SIGKILL')
  await first.exited
  const result = await load.stop()

  await db.start()
  const next = containerised(env, await freePort())
  t.teardown(() => next.child.kill('SIGKILL'))
  await until(() => fetch(`${next.base}/ready`).then(async (r) => r.ok && ((await r.json()) as { spool: { state: string } }).spool.state === 'idle', () => false), 'the spool to be replayed', 120_000)
  t.same(await notExactlyOnce(db.url, result.acked), [], `all ${result.acked.length} events acknowledged by the killed instance are stored once`)
})
