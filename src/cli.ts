import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { loadConfig, ConfigError, type Config } from './config.js'
import { app } from './app.js'
import { openDatabase } from './store/database.js'
import { migrate } from './store/migrate.js'
import { isPrivilege, type Privilege } from './auth/keys.js'
import { serve } from './main.js'
import { runInbentaCli, InbentaUsageError, INBENTA_USAGE } from './protocols/inbenta/cli.js'
import { runQuarantineCli, QuarantineUsageError, QUARANTINE_USAGE } from './store/quarantine-cli.js'
import path from 'node:path'

const USAGE = `usage: npm run cli -- <command>

  orgs create <id> [--name N] [--allowed-origins a,b]   create an organization
  orgs list                                             list organizations
  keys create --org <id> --privileges a,b [--name N] [--platform-orgs o1,o2|*] [--json]
                                                        create an API key (secret shown once)
  keys list --org <id>                                  list an organization's keys
  keys revoke <keyId>                                   revoke a key
  tokens sign --org <id> --user <name> [--search-hub H] [--pipeline P] [--display-name D] [--valid-for S]
                                                        sign a search token (JWT) for testing
  migrate                                               apply pending migrations
  serve                                                 start the service (same as npm start)
${INBENTA_USAGE}
${QUARANTINE_USAGE}

privileges: analytics:push, analytics:read, impersonate, admin
DATABASE_URL selects the database; without it the embedded one in DATA_DIR is used.`

export class UsageError extends Error {
  override name = 'UsageError'
}

type Out = (line: string) => void

/** Run one admin command against the configured database; returns the process exit code. */
export async function runCli(argv: string[], config: Config, out: Out = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const [group, action, ...rest] = argv
  if (!group || group === 'help' || group === '--help') {
    out(USAGE)
    return group ? 0 : 2
  }
  if (group === 'serve') {
    await serve(config)
    return -1 // keeps running
  }

  const server = Fastify({ logger: { level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL } })
  const database = await openDatabase(config, server.log)
  try {
    await server.register(app, { config, databaseUrl: database.url })
    const result = await migrate(server.db, server.log)
    await server.ready()
    if (group === 'migrate') {
      out(result.applied.length ? `applied: ${result.applied.join(', ')}` : 'database is up to date')
      return 0
    }
    const keys = server.keys
    const args = [action ?? '', ...rest]
    const key = `${group} ${action ?? ''}`
    switch (key) {
      case 'orgs create': {
        const { values, positionals } = parse(args.slice(1), { name: { type: 'string' }, 'allowed-origins': { type: 'string' } })
        const id = positionals[0]
        if (!id) throw new UsageError('orgs create needs an organization id')
        const org = await keys.createOrg(id, values.name ?? id)
        if (values['allowed-origins']) await keys.updateOrg(id, { allowedOrigins: list(values['allowed-origins']) })
        out(`created organization ${org.orgId}`)
        return 0
      }
      case 'orgs list': {
        for (const org of await keys.listOrgs()) {
          out(`${org.orgId}\t${org.name}\torigins=${org.allowedOrigins?.join(',') ?? '*'}\tcreated=${org.createdAt.toISOString()}`)
        }
        return 0
      }
      case 'keys create': {
        const { values } = parse(args.slice(1), {
          org: { type: 'string' },
          privileges: { type: 'string' },
          name: { type: 'string' },
          'platform-orgs': { type: 'string' },
          json: { type: 'boolean' },
        })
        if (!values.org) throw new UsageError('keys create needs --org')
        const privileges = list(values.privileges ?? '')
        const bad = privileges.filter((p) => !isPrivilege(p))
        if (privileges.length === 0 || bad.length > 0) {
          throw new UsageError(`--privileges must list some of analytics:push, analytics:read, impersonate, admin${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}`)
        }
        if (!(await keys.getOrg(values.org))) throw new UsageError(`no organization ${values.org}`)
        const created = await keys.createKey({
          orgId: values.org,
          privileges: privileges as Privilege[],
          name: values.name,
          platformOrgs: values['platform-orgs'] ? list(values['platform-orgs']) : null,
        })
        if (values.json) out(JSON.stringify(created))
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
        const id = rest[0]
        if (!id) throw new UsageError('keys revoke needs a key id')
        await keys.revokeKey(id)
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
        out(
          await server.auth.signSearchToken(
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
          return await runInbentaCli(rest, server, out)
        } catch (err) {
          if (err instanceof InbentaUsageError) throw new UsageError(err.message)
          throw err
        }
      }
      default:
        if (group === 'quarantine') {
          try {
            const context = { pool: server.db, dir: path.join(config.DATA_DIR, 'quarantine'), visitTimeoutMinutes: config.VISIT_TIMEOUT_MINUTES }
            return await runQuarantineCli([action ?? '', ...rest], context, out)
          } catch (err) {
            if (err instanceof QuarantineUsageError) throw new UsageError(err.message)
            throw err
          }
        }
        throw new UsageError(`unknown command: ${argv.join(' ')}`)
    }
  } finally {
    await server.close()
    await database.stop()
  }
}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  return parseArgs({ args, options, allowPositionals: true, strict: true })
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const code = await runCli(process.argv.slice(2), loadConfig())
    if (code >= 0) process.exitCode = code
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`searchtrack: ${(err as Error).message}\n\n${USAGE}\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`searchtrack: ${(err as Error).message}\n`)
      process.exitCode = 1
    }
  }
}
