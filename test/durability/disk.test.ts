import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { buildAppWithTestRoute, notExactlyOnce, ownPostgres } from '../reliability/helpers.js'
import { startLoad, until } from '../reliability/load.js'

// The spool's disk fails: full, or read-only. A request is acknowledged only once its whole record
// is on disk; the others get 503 + Retry-After; nothing acknowledged is lost.

/** A directory of `size` on a tmpfs of its own (root only), removed after the test; null without. */
async function tinyDisk(t: Test, size: string): Promise<string | null> {
  const dir = await mkdtemp(path.join(tmpdir(), 'searchtrack-tiny-disk-'))
  await chmod(dir, 0o755)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    await rm(dir, { recursive: true, force: true })
    return null
  }
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

/** Whether this machine lets the test mount a tmpfs (root, not in a restricted container). */
function canMountTmpfs(): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'searchtrack-mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' })
    execFileSync('umount', [dir], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const skip = canMountTmpfs() ? false : 'mounting a tmpfs needs root (mount -t tmpfs)'

async function segmentBytes(spoolDir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(spoolDir)) if (name.startsWith('segment-')) total += (await stat(path.join(spoolDir, name))).size
  return total
}

t.test('a full disk under the spool: 503 + Retry-After, /ready 503, every acknowledged event kept', { skip }, async (t) => {
  const disk = (await tinyDisk(t, '2m'))!
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url, { DATA_DIR: disk, SPOOL_SEGMENT_BYTES: '262144', SPOOL_RETRY_MS: '50' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  await db.stop()

  const load = startLoad(`${base}/test/events`, { org: 'acme', workers: 8, visitorsPerRequest: 5 })
  await until(() => load.result.failures.length >= 40, 'the disk to fill')
  const ready = await fetch(`${base}/ready`)
  const readyBody = (await ready.json()) as { status: string; spool: { failing: boolean } }
  const result = await load.stop()

  t.ok(result.acked.length > 100, `${result.acked.length} events acknowledged before the disk filled`)
  t.same([...new Set(result.failures.map((f) => f.status))], [503], 'then refused with 503 only, never 500')
  t.equal(result.failures[0]!.headers['retry-after'], '30')
  t.match(JSON.parse(result.failures[0]!.body), { type: 'StorageUnavailable' })
  t.equal(ready.status, 503, '/ready is 503 while the spool cannot write')
  t.equal(readyBody.spool.failing, true)
  t.equal(app.writer.spoolStatus.bytes, await segmentBytes(path.join(disk, 'spool')), 'the byte count is what the files hold')

  await db.start()
  await until(() => app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')
  t.same(await notExactlyOnce(db.url, result.acked), [], `all ${result.acked.length} acknowledged events stored exactly once`)
  t.equal((await fetch(`${base}/ready`)).status, 200, 'ready again')
})

t.test('a read-only spool directory: 503 + Retry-After and /ready 503; writable again, acknowledged again', { skip }, async (t) => {
  const disk = (await tinyDisk(t, '8m'))!
  const db = await ownPostgres(t)
  const { app } = await buildAppWithTestRoute(t, db.url, { DATA_DIR: disk, SPOOL_RETRY_MS: '50' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const spoolDir = path.join(disk, 'spool')
  await db.stop()
  // The spool directory read-only from now on (a bind mount of itself; what is open stays open).
  execFileSync('mount', ['--bind', spoolDir, spoolDir])
  execFileSync('mount', ['-o', 'remount,bind,ro', spoolDir])
  let mounted = true
  t.teardown(() => {
    if (mounted) execFileSync('umount', ['-l', spoolDir])
  })

  const post = () => fetch(`${base}/test/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org: 'acme', visitors: ['a'] }) })
  const refused = await post()
  t.equal(refused.status, 503, 'refused, not 500')
  t.equal(refused.headers.get('retry-after'), '30')
  t.match(await refused.json(), { type: 'StorageUnavailable', message: String })
  const ready = await fetch(`${base}/ready`)
  t.equal(ready.status, 503, '/ready is 503')
  t.match(await ready.json(), { status: 'unavailable', spool: { failing: true } })

  execFileSync('umount', [spoolDir])
  mounted = false
  const accepted = await post()
  t.equal(accepted.status, 200, 'acknowledged once the spool can write again')
  const { eventIds } = (await accepted.json()) as { eventIds: string[] }
  t.match(await (await fetch(`${base}/ready`)).json(), { status: 'degraded', spool: { failing: false } })
  await db.start()
  await until(() => app.writer.spoolStatus.state === 'idle', 'the spool to be replayed')
  t.same(await notExactlyOnce(db.url, eventIds), [])
})
