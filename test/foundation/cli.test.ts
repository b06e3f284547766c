import t from 'tap'
import { runCli } from '../../src/cli.js'
import { loadConfig } from '../../src/config.js'
import { createTestDatabase } from '../helpers/db.js'
import { buildTestApp } from '../helpers/app.js'

t.test('orgs, keys and tokens from the command line', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' })
  const run = async (...argv: string[]) => {
    const lines: string[] = []
    const code = await runCli(argv, config, (l) => lines.push(l))
    return { code, out: lines.join('\n') }
  }

  t.match(await run('migrate'), { code: 0, out: 'database is up to date' })
  t.match(await run('orgs', 'create', 'acme', '--name', 'Acme Inc', '--allowed-origins', 'https://a.example,https://b.example'), { code: 0 })
  t.match((await run('orgs', 'list')).out, /^acme\tAcme Inc\torigins=https:\/\/a.example,https:\/\/b.example/)

  const created = await run('keys', 'create', '--org', 'acme', '--privileges', 'analytics:push,impersonate', '--name', 'web', '--json')
  const key = JSON.parse(created.out)
  t.same(Object.keys(key).sort(), ['id', 'key', 'org', 'privileges'])
  t.match(key, { org: 'acme', privileges: ['analytics:push', 'impersonate'] })
  t.match((await run('keys', 'list', '--org', 'acme')).out, new RegExp(`^${key.id}\tweb\tanalytics:push,impersonate\tactive$`))

  const token = (await run('tokens', 'sign', '--org', 'acme', '--user', 'alice@example.com', '--search-hub', 'support', '--valid-for', '600')).out
  const { app } = await buildTestApp(t, { databaseUrl })
  t.match(await app.auth.authenticate(token), { orgId: 'acme', userId: 'alice@example.com', searchHub: 'support' })
  t.equal((await app.auth.authenticate(key.key)).orgId, 'acme', 'the printed key authenticates')

  t.match(await run('keys', 'revoke', key.id), { code: 0, out: `revoked key ${key.id}` })
  t.match((await run('keys', 'list', '--org', 'acme')).out, /revoked \d{4}-/)
  await t.rejects(buildTestApp(t, { databaseUrl }).then(({ app }) => app.auth.authenticate(key.key)), { code: 'InvalidToken' })

  await t.rejects(run('keys', 'create', '--org', 'acme', '--privileges', 'root'), { name: 'UsageError', message: /unknown: root/ })
  await t.rejects(run('keys', 'create', '--org', 'nope', '--privileges', 'admin'), /no organization nope/)
  await t.rejects(run('frobnicate'), /unknown command/)
  t.match(await run(), { code: 2, out: /usage: npm run cli/ })
})
