import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { loadConfig, ConfigError, type Config } from './config.js'
import { loadEnvFile } from './env-file.js'
import { openAdminContext, type AdminContext } from './admin/context.js'
import { locateEmbeddedPostgres } from './store/embedded.js'
import { runInbentaCli, InbentaUsageError, INBENTA_USAGE } from './protocols/inbenta/cli.js'
import { runQuarantineCli, QuarantineUsageError, QUARANTINE_USAGE } from './store/quarantine-cli.js'
import { InvalidValueError, NotFoundError, isPrivilege } from './auth/keys.js'
import { AdminOperations, AlreadyExistsError } from './admin/operations.js'
import { listAudit } from './admin/audit.js'
import path from 'node:path'
import { userInfo } from 'node:os'

const USAGE = `usage: npm run cli -- <command>

  orgs create <id> [--name N] [--allowed-origins a,b]   create an organization
  orgs list                                             list organizations
  orgs update <id> [--name N] [--allowed-origins a,b|*] rename an organization, or change the browser
                                                        origins it accepts events from (* = any)
  keys create --org <id> --privileges a,b [--name N] [--platform-orgs o1,o2|*] [--json|--quiet]
                                                        create an API key (secret shown once;
                                                        --quiet prints the key alone)
  keys list --org <id>                                  list an organization's keys
  keys revoke <keyId>                                   revoke a key
  audit list [--org <id>] [--limit N]                   the audit log of admin actions, newest first
                                                        (one JSON object per line)
  tokens sign --org <id> --user <name> [--search-hub H] [--pipeline P] [--display-name D] [--valid-for S]
                                                        sign a search token (JWT) for testing
  db url                                                print the database URL (for psql)
  migrate                                               apply pending migrations
  serve                                                 start the service (same as npm start)
${INBENTA_USAGE}
${QUARANTINE_USAGE}
  reports rebuild --org <id>                            derive an organization's report data again from its
                                                        events (after changing its report settings)

privileges: analytics:push, analytics:read, impersonate, admin
Commands work while the service runs. DATABASE_URL selects the database; without it, the embedded
one in DATA_DIR is used (the running service's, or started for the command and stopped after).`

/** A mistake in the command line: the message, then the usage. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A command that cannot be done as asked (an unknown organization…): the message alone. */
export class CommandError extends Error {
  override name = 'CommandError'
}

type Out = (line: string) => void

const COMMANDS = [
  'orgs create', 'orgs list', 'orgs update', 'audit list', 'keys create', 'keys list', 'keys revoke', 'tokens sign', 'inbenta priorities',
  'quarantine list', 'quarantine show', 'quarantine redrive', 'reports rebuild',
]

/** Run one admin command against the configured database; returns the process exit code. */
export async function runCli(argv: string[], config: Config, out: Out = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const [group, action, ...rest] = argv
  if (!group || group === 'help' || group === '--help') {
    out(USAGE)
    return group ? 0 : 2
  }
  if (group === 'serve') {
    // Loaded here only: the whole service is more than any other command needs.
    const { serve } = await import('./main.js')
    await serve(config)
    return -1 // keeps running
  }
  if (group === 'db' && action === 'url') return printDatabaseUrl(config, out)
  // Before any database is opened (or started) for it.
  if (group !== 'migrate' && !COMMANDS.includes(`${group} ${action ?? ''}`)) throw new UsageError(`unknown command: ${argv.join(' ')}`)

  const log = pino({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL })
  const admin = await openAdminContext(config, log)
  // Interrupted, a command still stops the embedded database it started (that runs in a session of
  // its own, so the terminal's signal did not reach it), then dies of the same signal. npm passes
  // the terminal's Ctrl-C on to the command as well: the second signal is the same interruption.
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    void admin.close().finally(() => {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      process.kill(process.pid, signal)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const result = await admin.migrate()
    if (group === 'migrate') {
      out(result.applied.length ? `applied: ${result.applied.join(', ')}` : 'database is up to date')
      return 0
    }
    return await runCommand(admin, config, `${group} ${action ?? ''}`, [action ?? '', ...rest], argv, out)
  } catch (err) {
    // A value the stores refuse (an organization id that is not one, a name too long): the reason.
    if (err instanceof InvalidValueError || err instanceof NotFoundError || err instanceof AlreadyExistsError) throw new CommandError(err.message)
    throw err
  } finally {
    await admin.close()
    if (!interrupted) {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
  }
}

async function runCommand(admin: AdminContext, config: Config, command: string, args: string[], argv: string[], out: Out): Promise<number> {
  const { keys } = admin
  const operations = new AdminOperations(admin.db, keys)
  const actor = `cli:${systemUser()}`
  switch (command) {
    case 'orgs create': {
      const { values, positionals } = parse(args.slice(1), { name: { type: 'string' }, 'allowed-origins': { type: 'string' } })
      const id = positionals[0]
      if (!id) throw new UsageError('orgs create needs an organization id')
      const org = await operations.createOrg(actor, {
        id,
        name: values.name,
        allowedOrigins: values['allowed-origins'] ? list(values['allowed-origins']) : undefined,
      })
      out(`created organization ${org.orgId}`)
      return 0
    }
    case 'orgs list': {
      for (const org of await keys.listOrgs()) {
        out(`${org.orgId}\t${org.name}\torigins=${org.allowedOrigins?.join(',') ?? '*'}\tcreated=${org.createdAt.toISOString()}`)
      }
      return 0
    }
    case 'orgs update': {
      const { values, positionals } = parse(args.slice(1), { name: { type: 'string' }, 'allowed-origins': { type: 'string' } })
      const id = positionals[0]
      if (!id) throw new UsageError('orgs update needs an organization id')
      const origins = values['allowed-origins']
      if (values.name === undefined && origins === undefined) throw new UsageError('orgs update needs --name or --allowed-origins')
      const org = await operations.updateOrg(actor, id, {
        name: values.name,
        allowedOrigins: origins === undefined ? undefined : origins.trim() === '*' ? null : list(origins),
      })
      out(`${org.orgId}\t${org.name}\torigins=${org.allowedOrigins?.join(',') ?? '*'}`)
      return 0
    }
    case 'audit list': {
      const { values } = parse(args.slice(1), { org: { type: 'string' }, limit: { type: 'string' } })
      const limit = Number(values.limit ?? 100)
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit is a number of entries, from 1 to 100000')
      for (const row of await listAudit(admin.db, { orgs: values.org ? [values.org] : null, limit })) out(JSON.stringify(row))
      return 0
    }
    case 'keys create': {
      const { values } = parse(args.slice(1), {
        org: { type: 'string' },
        privileges: { type: 'string' },
        name: { type: 'string' },
        'platform-orgs': { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
      })
      if (!values.org) throw new UsageError('keys create needs --org')
      const privileges = list(values.privileges ?? '')
      const unknown = privileges.filter((p) => !isPrivilege(p))
      if (privileges.length === 0 || unknown.length > 0) {
        throw new UsageError(`--privileges must list some of analytics:push, analytics:read, impersonate, admin${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`)
      }
      if (!(await keys.getOrg(values.org))) {
        throw new CommandError(`no organization ${values.org}; create it first: npm run cli -- orgs create ${values.org}`)
      }
      const { record: _, ...created } = await operations.createKey(actor, {
        orgId: values.org,
        privileges,
        name: values.name,
        platformOrgs: values['platform-orgs'] ? list(values['platform-orgs']) : null,
      })
      if (values.json) out(JSON.stringify(created))
      else if (values.quiet) out(created.key)
      else out(`created key ${created.id} for ${created.org} (${created.privileges.join(', ')}); the secret is shown once:\n${created.key}`)
      return 0
    }
    case 'keys list': {
      const { values } = parse(args.slice(1), { org: { type: 'string' } })
      if (!values.org) throw new UsageError('keys list needs --org')
      for (const k of await keys.listKeys(values.org)) {
        out(`${k.keyId}\t${k.name}\t${k.privileges.join(',')}\t${k.platformOrgs ? `platform=${k.platformOrgs.join(',')}\t` : ''}${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'}`)
      }
      return 0
    }
    case 'keys revoke': {
      const id = args[1]
      if (!id) throw new UsageError('keys revoke needs a key id')
      await operations.revokeKey(actor, id)
      out(`revoked key ${id}`)
      return 0
    }
    case 'tokens sign': {
      const { values } = parse(args.slice(1), {
        org: { type: 'string' },
        user: { type: 'string' },
        'search-hub': { type: 'string' },
        pipeline: { type: 'string' },
        'display-name': { type: 'string' },
        'valid-for': { type: 'string' },
      })
      if (!values.org || !values.user) throw new UsageError('tokens sign needs --org and --user')
      const validFor = Number(values['valid-for'] ?? 86400)
      if (!Number.isInteger(validFor) || validFor <= 0) throw new UsageError('--valid-for is a number of seconds')
      if (!(await keys.getOrg(values.org))) throw new CommandError(`no organization ${values.org}`)
      out(
        await admin.signSearchToken(
          values.org,
          {
            userIds: [{ name: values.user, provider: 'Email Security Provider', type: 'User' }],
            searchHub: values['search-hub'],
            pipeline: values.pipeline,
            userDisplayName: values['display-name'],
          },
          validFor,
        ),
      )
      return 0
    }
    case 'inbenta priorities': {
      try {
        return await runInbentaCli(args.slice(1), { keys, operations, actor }, out)
      } catch (err) {
        if (err instanceof InbentaUsageError) throw new UsageError(err.message)
        throw err
      }
    }
    case 'quarantine list':
    case 'quarantine show':
    case 'quarantine redrive': {
      const context = { pool: admin.db, dir: path.join(config.DATA_DIR, 'quarantine'), visitTimeoutMinutes: config.VISIT_TIMEOUT_MINUTES }
      try {
        return await runQuarantineCli(args, context, out)
      } catch (err) {
        if (err instanceof QuarantineUsageError) throw new UsageError(err.message)
        throw err
      }
    }
    case 'reports rebuild': {
      const { values } = parse(args.slice(1), { org: { type: 'string' } })
      if (!values.org) throw new UsageError('reports rebuild needs --org')
      if (!(await admin.keys.getOrg(values.org))) throw new CommandError(`no organization ${values.org}`)
      const { rebuildOrg } = await import('./reports/maintenance/rebuild.js')
      const queued = await rebuildOrg(admin.db, values.org)
      out(`${values.org}: ${queued} events queued; the running service derives their report data again`)
      return 0
    }
    default:
      throw new UsageError(`unknown command: ${argv.join(' ')}`)
  }
}

/** `db url`: where to point psql. Starts nothing: the embedded database runs with the service. */
async function printDatabaseUrl(config: Config, out: Out): Promise<number> {
  if (config.DATABASE_URL) {
    out(config.DATABASE_URL)
    return 0
  }
  const embedded = await locateEmbeddedPostgres(config.DATA_DIR, config.EMBEDDED_PG_PORT)
  if (!embedded) throw new CommandError(`no embedded database in ${config.DATA_DIR} yet: start the service first (npm start)`)
  out(embedded.url)
  if (!embedded.running) process.stderr.write('searchtrack: the embedded database is not running now; it runs while the service does (npm start)\n')
  return 0
}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  return parseArgs({ args, options, allowPositionals: true, strict: true })
}

/** Who runs a command, for the audit log: the system user (a container's may have no name). */
function systemUser(): string {
  try {
    return userInfo().username
  } catch {
    return String(process.getuid?.() ?? 'unknown')
  }
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    loadEnvFile()
    const code = await runCli(process.argv.slice(2), loadConfig())
    if (code >= 0) process.exitCode = code
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`searchtrack: ${err.message}\n`)
      process.exitCode = 2
    } else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`searchtrack: ${(err as Error).message}\n\n${USAGE}\n`)
      process.exitCode = 2
    } else {
      // CommandError and anything unexpected: the message alone.
      process.stderr.write(`searchtrack: ${(err as Error).message}\n`)
      process.exitCode = 1
    }
  }
}
