import t from 'tap'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { isbot } from 'isbot'
import { freePort, startService } from '../helpers/process.js'
import { createTestDatabase } from '../helpers/db.js'

// What a new user does: start with no database at all, read the printed key, restart.
t.test('first start on the embedded default, data kept across restarts', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'searchtrack-data-'))
  await chmod(dataDir, 0o755)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '' }

  const first = await startService(env)
  const key = /^\s+(st_\S+)$/m.exec(first.output())?.[1]
  t.ok(key, 'the first start prints an API key')
  t.match(first.output(), /curl -X POST '.*\/rest\/ua\/v15\/analytics\/search'/, 'and a curl line to try it')
  t.notMatch(first.output(), /"level":(40|50)/, 'no warning or error on a first start')
  const ready = await (await fetch(`${first.url}/ready`)).json()
  t.match(ready, { status: 'ready', database: 'up', writer: 'healthy', queuedEvents: 0 })

  t.match(first.output(), /searchtrack: ready at http:\/\/127\.0\.0\.1:\d+/, 'and says where it listens')

  // The printed curl line, run as printed: its event is stored, and not as a bot's.
  const curl = /^\s+(curl -X POST [^\n]*\\\n[^\n]*\\\n[^\n]*)$/m.exec(first.output())?.[1]
  t.ok(curl, 'the curl line is printed')
  const agent = /-A '([^']+)'/.exec(curl ?? '')?.[1]
  t.equal(isbot(agent), false, `its user agent is a browser's: ${agent}`)
  const answer = await promisify(execFile)('sh', ['-c', `${curl} -sS`])
  t.match(JSON.parse(answer.stdout), { searchEventUid: /^[0-9a-f-]{36}$/ })

  const { user, password } = JSON.parse(await readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8'))
  const dbUrl = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${env.EMBEDDED_PG_PORT}/postgres`
  const client = new pg.Client({ connectionString: dbUrl })
  await client.connect()
  const stored = await client.query(`SELECT query_text, is_bot, browser FROM events WHERE org_id = 'default'`)
  t.same(stored.rows, [{ query_text: 'hello world', is_bot: false, browser: 'Firefox 128' }], 'the first event is a browser\'s')
  await client.query(`INSERT INTO events (org_id, event_id, received_at, protocol, type) VALUES ('default', gen_random_uuid(), now(), 'coveo', 'custom')`)
  await client.end()

  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0, 'SIGTERM: a clean exit')

  const second = await startService(env)
  t.notMatch(second.output(), /st_[0-9a-f]{16}_/, 'no new key on a database that has one')
  const again = new pg.Client({ connectionString: dbUrl })
  await again.connect()
  const { rows } = await again.query('SELECT count(*)::int AS n FROM events')
  await again.end()
  t.equal(rows[0].n, 2, 'the data survived the restart')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

t.test('DATABASE_URL selects an external server; a bad setting stops the start with a clear message', async (t) => {
  const url = await createTestDatabase(t)
  const service = await startService({ DATABASE_URL: url })
  t.equal((await fetch(`${service.url}/health`)).status, 200)
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)

  const bad = await startService({ DATABASE_URL: url, PORT: 'eighty' }).then(
    () => 'started',
    (err: Error) => err.message,
  )
  t.match(bad, /invalid configuration:\n\s+PORT="eighty"/)
})

t.test('as root, a DATA_DIR the postgres user cannot reach stops the start with what to do', { skip: process.getuid?.() !== 0 && 'only root runs the embedded cluster as another user' }, async (t) => {
  const closed = await mkdtemp(path.join(tmpdir(), 'searchtrack-closed-')) // mode 0700, as /root
  t.teardown(() => rm(closed, { recursive: true, force: true }))
  const env = { DATA_DIR: path.join(closed, 'data'), EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '' }
  const failure = await startService(env).then(
    () => 'started',
    (err: Error) => err.message,
  )
  t.match(failure, /service exited early \(1\)/)
  t.match(failure, new RegExp(`could not start: the embedded PostgreSQL runs as the system user "postgres" when searchtrack runs as root, and that user cannot enter ${closed}\\. Set DATA_DIR`))
  t.notMatch(failure, /\n\s+at /, 'one line, no stack')
})
