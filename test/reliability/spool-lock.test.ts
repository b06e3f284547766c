import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { Spool } from '../../src/store/spool.js'
import { ROOT } from '../helpers/process.js'

const log = pino({ level: 'silent' })

async function dir(t: { teardown(fn: () => unknown): void }) {
  const d = await mkdtemp(path.join(tmpdir(), 'searchtrack-spool-lock-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return d
}

const open = (d: string) => Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 16, log })

/** Another process holding the spool of `d` (the same Spool code, built by `npm test`), until killed. */
async function holder(t: { teardown(fn: () => unknown): void }, d: string) {
  const script = `
    import { Spool } from './dist/store/spool.js'
    await Spool.open({ dir: ${JSON.stringify(d)}, maxBytes: 1 << 20, segmentBytes: 1 << 16, log: { warn() {}, error() {} } })
    process.stdout.write('locked\\n')
    setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill('SIGKILL'))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => String(chunk).includes('locked') && resolve())
    child.on('exit', (code) => reject(new Error(`holder exited ${code}`)))
  })
  return child
}

t.test('one owner per spool directory, released on close; the LOCK file stays', async (t) => {
  const d = await dir(t)
  const spool = await open(d)
  await t.rejects(open(d), { name: 'SpoolLockedError' }, 'not twice in one process')
  await spool.close()
  const again = await open(d)
  await again.close()
  t.match(await readFile(path.join(d, 'LOCK'), 'utf8'), new RegExp(`^pid ${process.pid} on `), 'the file only says who held it last')
})

t.test('what a LOCK file says is no lock: a stale file (a restarted container, PID 1 again) is taken over', async (t) => {
  const d = await dir(t)
  await writeFile(path.join(d, 'LOCK'), 'pid 1 on some-container since 2026-01-01T00:00:00.000Z\n')
  await (await open(d)).close()
  t.pass('opened')
})

t.test('a spool held by another live process is refused; free again once that process dies (kill -9)', async (t) => {
  const d = await dir(t)
  const other = await holder(t, d)
  await t.rejects(open(d), { name: 'SpoolLockedError', message: new RegExp(`in use by another instance \\(pid ${other.pid} on `) })
  other.kill('SIGKILL')
  await new Promise((resolve) => other.on('exit', resolve))
  await (await open(d)).close()
  t.pass('the kernel released the lock with the process')
})
