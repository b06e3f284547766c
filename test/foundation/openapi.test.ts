import t from 'tap'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { buildTestApp } from '../helpers/app.js'

const METHODS = ['get', 'post', 'put', 'patch', 'delete']

// Every route the app serves is described in openapi.yaml, and everything the file describes is
// served. HEAD (added by Fastify for each GET) and OPTIONS (CORS preflights) are not listed.
t.test('openapi.yaml and the routes agree', async (t) => {
  const served = new Set<string>()
  await buildTestApp(t, {
    beforeRegister: (server) =>
      server.addHook('onRoute', (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method]
        const path = route.url.replace(/:(\w+)/g, '{$1}')
        if (path.includes('*')) return
        for (const m of methods) if (METHODS.includes(m.toLowerCase())) served.add(`${m.toUpperCase()} ${path}`)
      }),
  })
  const doc = parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>
  }
  const described = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item)) if (METHODS.includes(m)) described.add(`${m.toUpperCase()} ${path}`)
  }
  t.same([...served].filter((r) => !described.has(r)).sort(), [], 'every served route is described')
  t.same([...described].filter((r) => !served.has(r)).sort(), [], 'every described route is served')
  t.ok(described.size >= 3)
})
