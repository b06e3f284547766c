import t from 'tap'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import { createTestDatabase } from '../helpers/db.js'
import { freePort, runCliProcess, startService, type ServiceProcess } from '../helpers/process.js'

// Admin commands are run while the service runs on the same DATA_DIR: the service holds the
// outage spool there, and the commands must neither need it nor disturb it.

async function dataDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'searchtrack-cli-'))
  // The embedded cluster runs as the `postgres` user when we are root: it must enter the dir.
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const SEARCH = {
  language: 'en',
  queryText: 'beside',
  actionCause: 'searchboxSubmit',
  responseTime: 5,
  searchQueryUid: '00000000-0000-4000-8000-00000000000a',
}

async function logSearch(service: ServiceProcess, token: string): Promise<number> {
  const response = await fetch(`${service.url}/rest/ua/v15/analytics/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(SEARCH),
  })
  await response.text()
  return response.status
}

/** The admin commands a user runs on a fresh setup, each checked, while `service` serves. */
async function adminCommands(t: Test, service: ServiceProcess, env: Record<string, string>) {
  const cli = (...args: string[]) => runCliProcess(args, env)

  t.match(await cli('orgs', 'create', 'acme', '--name', 'Acme Inc'), { code: 0, stdout: 'created organization acme\n' })
  t.match(await cli('orgs', 'list'), { code: 0, stdout: /^acme\tAcme Inc\t/m })
  const created = await cli('keys', 'create', '--org', 'acme', '--privileges', 'analytics:push', '--quiet')
  t.match(created, { code: 0, stdout: /^st_[0-9a-f]{16}_\S{43}\n$/ }, '--quiet prints the key alone')
  const key = created.stdout.trim()
  t.equal(await logSearch(service, key), 200, 'the running service accepts the key at once')

  const token = await cli('tokens', 'sign', '--org', 'acme', '--user', 'alice@example.com')
  t.equal(token.code, 0, token.stderr)
  t.equal(await logSearch(service, token.stdout.trim()), 200, 'and the signed search token')

  t.match(await cli('inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'MY_KEY', '--priority', '4'), { code: 0 })
  t.match(await cli('inbenta', 'priorities', 'list', '--org', 'acme'), { code: 0, stdout: /^MY_KEY\t4\tcustom$/m })
  t.match(await cli('migrate'), { code: 0, stdout: 'database is up to date\n' })

  const url = await cli('db', 'url')
  t.equal(url.code, 0, url.stderr)
  const client = new pg.Client({ connectionString: url.stdout.trim() })
  await client.connect()
  const { rows } = await client.query(`SELECT username FROM events WHERE org_id = 'acme' ORDER BY received_at`)
  await client.end()
  t.same(rows, [{ username: 'anonymous' }, { username: 'alice@example.com' }], '`db url` leads to the events just logged')

  const refused = await cli('keys', 'create', '--org', 'nope', '--privileges', 'analytics:push')
  t.match(refused, { code: 1, stderr: /no organization nope; create it first: npm run cli -- orgs create nope/ })
  t.notMatch(refused.stderr, /usage:/, 'a state problem is not answered with the usage text')

  const ready = (await (await fetch(`${service.url}/ready`)).json()) as { status: string }
  t.equal(ready.status, 'ready', 'the service is undisturbed')
}

t.test('embedded database: commands use the running service\'s cluster, found from DATA_DIR alone', async (t) => {
  const dir = await dataDir(t)
  const env = { DATA_DIR: dir, EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '', BOOTSTRAP_DEFAULT_ORG: 'false' }
  const service = await startService(env)
  // Another EMBEDDED_PG_PORT on purpose: the cluster's port is read from its own files.
  await adminCommands(t, service, { ...env, EMBEDDED_PG_PORT: String(await freePort()) })
  t.match(await runCliProcess(['orgs', 'list'], env), { code: 0 })

  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
  t.notOk(existsSync(path.join(dir, 'pg', 'postmaster.pid')), 'the service stopped its database')

  // No service: the command starts the cluster, does its work and stops it again.
  const alone = await runCliProcess(['orgs', 'list'], env)
  t.match(alone, { code: 0, stdout: /^acme\t/m })
  t.notOk(existsSync(path.join(dir, 'pg', 'postmaster.pid')), 'a command that started the database stops it')
  t.match(await runCliProcess(['db', 'url'], env), { code: 0, stderr: /not running now/ })
})

// The same commands as above, fewer of them: what is at stake here is only that a command does
// not need the spool the service holds in the same DATA_DIR (the embedded case covers the rest).
t.test('DATABASE_URL: commands beside the running service on the same DATA_DIR', async (t) => {
  const env = { DATABASE_URL: await createTestDatabase(t), DATA_DIR: await dataDir(t), BOOTSTRAP_DEFAULT_ORG: 'false' }
  const service = await startService(env)
  const cli = (...args: string[]) => runCliProcess(args, env)
  t.match(await cli('orgs', 'create', 'acme'), { code: 0, stdout: 'created organization acme\n' })
  const created = await cli('keys', 'create', '--org', 'acme', '--privileges', 'analytics:push', '--quiet')
  t.match(created, { code: 0, stdout: /^st_[0-9a-f]{16}_\S{43}\n$/ }, created.stderr)
  t.equal(await logSearch(service, created.stdout.trim()), 200, 'the running service accepts the key at once')
  t.match(await cli('db', 'url'), { code: 0, stdout: `${env.DATABASE_URL}\n` }, '`db url` is DATABASE_URL')
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})
