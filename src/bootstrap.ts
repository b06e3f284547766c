import type { Config } from './config.js'
import type { KeyStore, CreatedKey } from './auth/keys.js'

export interface BootstrapKeys {
  /** Logs events: the key to give clients. */
  push: CreatedKey
  /** Reads reports and administers `default`: the dashboard's sign-in, never given to a client. */
  dashboard: CreatedKey
}

/**
 * On an empty database, create the `default` organization, a key that can push events and one
 * for the dashboard, so a first start is usable at once. Two keys, because the one pasted into a
 * search page is public, and must not read or administer anything. Their secrets exist only in
 * this return value.
 */
export async function bootstrapDefaultOrg(keys: KeyStore): Promise<BootstrapKeys | null> {
  if ((await keys.listOrgs()).length > 0) return null
  await keys.createOrg('default', 'Default organization')
  return {
    push: await keys.createKey({ orgId: 'default', privileges: ['analytics:push'], name: 'bootstrap' }),
    dashboard: await keys.createKey({ orgId: 'default', privileges: ['analytics:read', 'admin'], name: 'dashboard' }),
  }
}

/**
 * The user agent of the example curl lines. Events are classified by user agent, and curl's own
 * (`curl/8.x`) is a bot's: a first event sent with it is stored with is_bot = true and left out of
 * anything that excludes bots. This one is an ordinary desktop browser's.
 */
export const BROWSER_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

function baseUrl(config: Config): string {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`
}

/** How to run admin commands in this setting: through npm when the service was, else directly. */
function cliCommand(): { cli: string; quietCli: string } {
  return process.env.npm_lifecycle_event
    ? { cli: 'npm run cli --', quietCli: 'npm run -s cli --' }
    : { cli: 'node dist/cli.js', quietCli: 'node dist/cli.js' }
}

export function firstStartMessage({ push: key, dashboard }: BootstrapKeys, config: Config): string {
  const body = JSON.stringify({
    language: 'en',
    queryText: 'hello world',
    actionCause: 'searchboxSubmit',
    responseTime: 42,
    searchQueryUid: '00000000-0000-4000-8000-000000000001',
  })
  return [
    '',
    'searchtrack: created organization "default" and two API keys, each shown once: store them now.',
    'This one logs events (analytics:push); it is the key to give your search pages:',
    '',
    `  ${key.key}`,
    '',
    'Log a search with it (with a browser\'s user agent: curl\'s own would store the event as a bot\'s):',
    '',
    `  curl -X POST '${baseUrl(config)}/rest/ua/v15/analytics/search' -H 'Authorization: Bearer ${key.key}' \\`,
    `    -A '${BROWSER_USER_AGENT}' \\`,
    `    -H 'Content-Type: application/json' -d '${body}'`,
    '',
    `The dashboard is at ${baseUrl(config)}/ : sign in there with this key, which reads reports and`,
    'administers "default" (analytics:read, admin; keep it private):',
    '',
    `  ${dashboard.key}`,
    '',
  ].join('\n')
}

/** Printed once the service listens: where it is, where its data is, what to do next. */
export function readyMessage(config: Config, database: { embedded: boolean }, workers = 1): string {
  const { cli, quietCli } = cliCommand()
  const where = database.embedded ? `the embedded PostgreSQL in ${config.DATA_DIR}/pg` : 'the PostgreSQL of DATABASE_URL'
  return [
    `searchtrack: ready at ${baseUrl(config)}${workers > 1 ? ` with ${workers} worker processes` : ''} (GET / lists the endpoints; docs/README.md explains them)`,
    `  events are stored in ${where}: psql "$(${quietCli} db url)" to look at them`,
    `  admin commands work beside the running service: ${cli} help`,
    '',
  ].join('\n')
}
