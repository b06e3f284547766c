import t from 'tap'
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { startEmbeddedPostgres } from '../../src/store/embedded.js'
import { freePort, ROOT, stopEmbeddedPostgresIn } from '../helpers/process.js'

// Ctrl-C in a terminal sends SIGINT to the terminal's whole foreground process group: npm, the
// shell it runs the script in, the service — and, if it were in the group, the embedded
// PostgreSQL. Here `npm start` is run in a process group of its own and the whole group is sent
// SIGINT under load, as a terminal does.
t.test('Ctrl-C on `npm start` under load: the service flushes, then stops its database; nothing acknowledged is lost', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'searchtrack-ctrl-c-'))
  await chmod(dataDir, 0o755)
  const pgPort = await freePort()
  const port = await freePort()
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true, // a process group of its own, like a terminal's foreground job
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(pgPort),
      DATABASE_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      BOOTSTRAP_DEFAULT_ORG: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  npm.stdout!.on('data', (c) => (output += c))
  npm.stderr!.on('data', (c) => (output += c))
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()))
  t.teardown(async () => {
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL')
    await stopEmbeddedPostgresIn(dataDir)
    await rm(dataDir, { recursive: true, force: true })
  })

  const base = `http://127.0.0.1:${port}`
  while (!(await fetch(`${base}/ready`).then((r) => r.ok, () => false))) {
    if (npm.exitCode !== null) throw new Error(`npm start exited:\n${output}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const key = /^\s+(st_\S+)$/m.exec(output)?.[1]
  if (!key) throw new Error(`no key printed:\n${output}`)

  // Steady load: every 200 answer's searchEventUid is an acknowledged event.
  const acked: string[] = []
  let running = true
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      const ok = await fetch(`${base}/rest/ua/v15/analytics/search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          language: 'en',
          queryText: `q${w}-${i}`,
          actionCause: 'searchboxSubmit',
          responseTime: 1,
          searchQueryUid: `00000000-0000-4000-8000-${String(w * 1e6 + i).padStart(12, '0')}`,
        }),
      }).then(
        async (r) => (r.status === 200 ? ((await r.json()) as { searchEventUid: string }).searchEventUid : null),
        () => null,
      )
      if (ok) acked.push(ok)
      else await new Promise((r) => setTimeout(r, 5)) // shutting down: not acknowledged
    }
  }
  const workers = Array.from({ length: 12 }, (_, w) => worker(w))
  while (acked.length < 500) await new Promise((r) => setTimeout(r, 20))

  process.kill(-npm.pid!, 'SIGINT')
  await exited
  running = false
  await Promise.all(workers)

  t.match(output, /"signal":"SIGINT","msg":"shutting down"[\s\S]*"msg":"stopped; the embedded database too"/, 'the service says it has stopped, the database too')
  t.notMatch(output, /terminating connection due to administrator command/, 'the database was not stopped under the service')
  t.notMatch(output, /batch failed|spooling events|second SIGINT/)
  t.notOk(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), 'the service stopped its database on the way out')

  const db = await startEmbeddedPostgres(dataDir, pgPort, pino({ level: 'silent' }))
  t.teardown(() => db.stop())
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  const { rows } = await client.query<{ event_id: string; n: number }>(
    'SELECT event_id::text, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[]) GROUP BY 1',
    [acked],
  )
  await client.end()
  const once = rows.filter((r) => r.n === 1).length
  t.equal(once, acked.length, `all ${acked.length} acknowledged events are stored, once each`)
})
