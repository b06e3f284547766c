import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { Spool } from '../../src/store/spool.js'

const log = pino({ level: 'silent' })

async function dir(t: { teardown(fn: () => unknown): void }) {
  const d = await mkdtemp(path.join(tmpdir(), 'searchtrack-spool-lock-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return d
}

const open = (d: string) => Spool.open({ dir: d, maxBytes: 1 << 20, segmentBytes: 1 << 16, log })

t.test('one owner per spool directory', async (t) => {
  const d = await dir(t)
  const spool = await open(d)
  await t.rejects(open(d), { name: 'SpoolLockedError' }, 'not twice in one process')
  await spool.close()
  await (await open(d)).close()
  t.pass('free again once closed')
})

t.test('a lock left by a dead process, or by a previous process with our pid, is taken over', async (t) => {
  const stale = await dir(t)
  // What a container restarted after a crash finds: its own pid (1) in the old lock file.
  await writeFile(path.join(stale, 'LOCK'), String(process.pid))
  await (await open(stale)).close()

  const dead = await dir(t)
  const child = spawn(process.execPath, ['-e', ''])
  await new Promise((resolve) => child.on('exit', resolve))
  await writeFile(path.join(dead, 'LOCK'), String(child.pid))
  await (await open(dead)).close()
  t.pass('both opened')
})

t.test('a lock held by another live process is refused', async (t) => {
  const d = await dir(t)
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
  t.teardown(() => other.kill('SIGKILL'))
  await writeFile(path.join(d, 'LOCK'), String(other.pid))
  await t.rejects(open(d), { name: 'SpoolLockedError', message: new RegExp(`in use by process ${other.pid}`) })
})
