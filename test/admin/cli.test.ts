import t from 'tap'
import { runCli } from '../../src/cli.js'
import { loadConfig } from '../../src/config.js'
import { createTestDatabase } from '../helpers/db.js'

t.test('admin commands change what the admin routes change, and leave the same audit trail', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' })
  const run = async (...argv: string[]) => {
    const lines: string[] = []
    const code = await runCli(argv, config, (l) => lines.push(l))
    return { code, out: lines.join('\n') }
  }

  t.match(await run('orgs', 'create', 'acme'), { code: 0 })
  await t.rejects(run('orgs', 'create', 'acme'), { name: 'CommandError', message: 'organization acme already exists' })
  await t.rejects(run('orgs', 'create', 'shop', '--allowed-origins', 'https://shop.example/path'), { name: 'CommandError', message: /is not an origin/ })
  t.match(await run('orgs', 'update', 'acme', '--name', 'Acme Inc', '--allowed-origins', 'https://a.example,http://localhost:3000'), {
    code: 0,
    out: 'acme\tAcme Inc\torigins=https://a.example,http://localhost:3000',
  })
  t.match(await run('orgs', 'update', 'acme', '--allowed-origins', '*'), { code: 0, out: 'acme\tAcme Inc\torigins=*' })
  await t.rejects(run('orgs', 'update', 'acme'), { name: 'UsageError' })
  await t.rejects(run('orgs', 'update', 'nope', '--name', 'x'), { name: 'CommandError', message: 'no organization nope' })

  t.match(await run('inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'MY_KEY', '--priority', '3'), { code: 0 })
  await t.rejects(run('inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'MY_KEY', '--priority=-1'), { name: 'UsageError', message: /from 0/ })
  await t.rejects(run('inbenta', 'priorities', 'set', '--org', 'acme', '--key', 'my key', '--priority', '1'), { name: 'CommandError', message: /upper-case/ })
  t.match(await run('inbenta', 'priorities', 'reset', '--org', 'acme', '--key', 'MY_KEY'), { code: 0, out: /back to its shipped priority/ })
  t.match(await run('inbenta', 'priorities', 'reset', '--org', 'acme', '--key', 'MY_KEY'), { code: 0, out: /had no priority of its own/ })

  const key = JSON.parse((await run('keys', 'create', '--org', 'acme', '--privileges', 'analytics:push', '--json')).out)
  t.match(await run('keys', 'revoke', key.id), { code: 0 })
  await t.rejects(run('keys', 'revoke', '0123456789abcdef'), { name: 'CommandError', message: 'no key 0123456789abcdef' })

  const audit = (await run('audit', 'list', '--org', 'acme')).out.split('\n').map((l) => JSON.parse(l))
  t.same(
    audit.map((r) => r.action),
    ['key.revoke', 'key.create', 'inbenta.priority.reset', 'inbenta.priority.set', 'org.update', 'org.update', 'org.create'],
  )
  t.ok(audit.every((r) => /^cli:\S+$/.test(r.actor)), 'the system user is the actor')
  t.notMatch(JSON.stringify(audit), key.key.split('_')[2], 'no secret in the log')
  t.equal((await run('audit', 'list', '--limit', '2')).out.split('\n').length, 2)
})
