import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import pg from 'pg'
import { loadEnvFile } from '../../src/env-file.js'
import { createTestDatabase } from '../helpers/db.js'
import { freePort, runCliProcess, startService } from '../helpers/process.js'

async function directoryWithEnv(t: Test, content: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'searchtrack-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, '.env'), content)
  return dir
}

t.test('loadEnvFile: the file fills in what the environment does not set', async (t) => {
  const dir = await directoryWithEnv(t, '# a comment\nST_TEST_A=from-file\nST_TEST_B="quoted # not a comment"\nST_TEST_C=from-file\n')
  process.env.ST_TEST_A = 'from-environment'
  process.env.ST_TEST_C = ''
  t.teardown(() => {
    for (const name of ['ST_TEST_A', 'ST_TEST_B', 'ST_TEST_C']) delete process.env[name]
  })
  t.equal(loadEnvFile(path.join(dir, '.env')), path.join(dir, '.env'))
  t.equal(process.env.ST_TEST_A, 'from-environment', 'a variable already set wins')
  t.equal(process.env.ST_TEST_C, '', 'even when it is set to nothing')
  t.equal(process.env.ST_TEST_B, 'quoted # not a comment')
  t.equal(loadEnvFile(path.join(dir, 'missing.env')), null, 'no file: nothing to do')
})

t.test('the CLI reads .env from its working directory; the environment wins', async (t) => {
  const url = await createTestDatabase(t)
  const dir = await directoryWithEnv(t, `DATABASE_URL=${url}\nDATA_DIR=./data\n`)
  // Not the DATABASE_URL the suite may run with: the one in .env is the point.
  const cli = (args: string[], env: Record<string, string> = {}) => runCliProcess(args, { DATABASE_URL: undefined, ...env }, dir)

  // Without DATABASE_URL in the environment, the one in .env is used: no embedded database starts.
  const created = await cli(['orgs', 'create', 'from-dotenv'])
  t.match(created, { code: 0, stdout: 'created organization from-dotenv\n' }, created.stderr)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query(`SELECT org_id FROM organizations WHERE org_id = 'from-dotenv'`)
  await client.end()
  t.equal(rows.length, 1, 'the organization is in the database .env names')

  const overridden = await cli(['orgs', 'list'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' })
  t.equal(overridden.code, 1, 'DATABASE_URL from the environment wins over .env')
  t.match(overridden.stderr, /ECONNREFUSED|connect/)

  const bad = await runCliProcess(['orgs', 'list'], { DATABASE_URL: undefined }, await directoryWithEnv(t, 'PORT=eighty\n'))
  t.match(bad, { code: 2, stderr: /PORT="eighty"/ }, 'a bad value in .env is named like one in the environment')
})

t.test('the service reads .env from its working directory', async (t) => {
  const dir = await directoryWithEnv(t, 'RATE_LIMIT_PER_MINUTE=2\nBOOTSTRAP_DEFAULT_ORG=false\n')
  const service = await startService({ DATABASE_URL: await createTestDatabase(t), DATA_DIR: path.join(dir, 'data'), PORT: String(await freePort()) }, undefined, dir)
  t.teardown(() => service.child.kill('SIGTERM'))
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await fetch(`${service.url}/`)).status)
  t.same(statuses, [200, 200, 429], 'RATE_LIMIT_PER_MINUTE=2 from .env is applied')
})
