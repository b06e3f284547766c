import t from 'tap'
import { runCli } from '../../src/cli.js'
import { loadConfig } from '../../src/config.js'
import { newEvent } from '../../src/events/event.js'
import { buildTestApp } from '../helpers/app.js'

t.test('privacy, retention and identity from the command line, audited without the identifiers', async (t) => {
  const { app, databaseUrl, config: appConfig } = await buildTestApp(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', DATA_DIR: appConfig.DATA_DIR })
  const run = async (...argv: string[]) => {
    const lines: string[] = []
    const code = await runCli(argv, config, (l) => lines.push(l))
    return { code, out: lines.join('\n') }
  }
  await app.keys.createOrg('acme')
  await app.writer.write([
    newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: 'cli-visitor-1', username: 'cli.user@example.org', queryText: 'a' }),
    newEvent({ orgId: 'acme', protocol: 'coveo', type: 'search', visitorId: 'cli-visitor-2', queryText: 'b' }),
  ])

  const exported = await run('privacy', 'export', '--org', 'acme', '--user', 'cli.user@example.org')
  const lines = exported.out.split('\n').map((l) => JSON.parse(l))
  t.equal(lines.filter((l) => l.table === 'events').length, 1)
  t.match(lines.at(-1), { summary: { events: 1 } })
  t.same(JSON.parse((await run('privacy', 'erase', '--org', 'acme', '--visitor', 'cli-visitor-1')).out).removed.events, 1)
  t.same(JSON.parse((await run('privacy', 'erase', '--org', 'acme', '--visitor', 'cli-visitor-1')).out).removed.events, 0, 'idempotent')
  t.equal((await app.db.query('SELECT 1 FROM events')).rowCount, 1)

  t.match(await run('retention', 'set', '--org', 'acme', '--raw-days', '90', '--rollup-days', 'forever'), { code: 0, out: /raw=90 days\trollups=forever/ })
  t.match((await run('retention', 'show')).out, /^acme\traw=90 days[\s\S]*last retention run: never/)
  t.match(await run('orgs', 'identity', 'set', '--org', 'acme', '--ip', 'none', '--user', 'hash'), { code: 0, out: /ip=none\tuser=hash/ })

  await t.rejects(run('privacy', 'erase', '--org', 'acme'), { name: 'UsageError' })
  await t.rejects(run('privacy', 'erase', '--org', 'acme', '--visitor', 'a', '--user', 'b'), { name: 'UsageError' })
  await t.rejects(run('privacy', 'erase', '--org', 'nope', '--visitor', 'a'), /no organization nope/)
  await t.rejects(run('retention', 'set', '--org', 'acme', '--raw-days', '0'), { name: 'UsageError' })
  await t.rejects(run('orgs', 'identity', 'set', '--org', 'acme', '--ip', 'full'), { name: 'UsageError' })

  const audit = (await app.db.query('SELECT actor, action, target, details::text AS details FROM audit_log ORDER BY id')).rows
  t.same(audit.map((a) => a.action), ['privacy.export', 'privacy.erase', 'privacy.erase', 'retention.update', 'org.identity.update'])
  const text = JSON.stringify(audit)
  t.notOk(text.includes('cli-visitor-1') || text.includes('cli.user@example.org'), 'no identifier in the audit log')
})
