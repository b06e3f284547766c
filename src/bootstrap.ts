import type { Config } from './config.js'
import type { KeyStore, CreatedKey } from './auth/keys.js'

/**
 * On an empty database, create the `default` organization and a key that can push events, so a
 * first start is usable at once. Returns the key (its secret exists only in this return value).
 */
export async function bootstrapDefaultOrg(keys: KeyStore): Promise<CreatedKey | null> {
  if ((await keys.listOrgs()).length > 0) return null
  await keys.createOrg('default', 'Default organization')
  return keys.createKey({ orgId: 'default', privileges: ['analytics:push'], name: 'bootstrap' })
}

export function firstStartMessage(key: CreatedKey, config: Config): string {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`
  const body = JSON.stringify({
    language: 'en',
    queryText: 'hello world',
    actionCause: 'searchboxSubmit',
    responseTime: 42,
    searchQueryUid: '00000000-0000-4000-8000-000000000001',
  })
  return [
    '',
    'searchtrack: created organization "default" and an API key with the analytics:push privilege.',
    'This key is shown once; store it now:',
    '',
    `  ${key.key}`,
    '',
    'Log a search with it:',
    '',
    `  curl -X POST '${base}/rest/ua/v15/analytics/search' -H 'Authorization: Bearer ${key.key}' \\`,
    `    -H 'Content-Type: application/json' -d '${body}'`,
    '',
  ].join('\n')
}
