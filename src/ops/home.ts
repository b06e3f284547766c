import { readFileSync } from 'node:fs'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const Home = Type.Object({
  service: Type.Literal('searchtrack'),
  version: Type.String(),
  endpoints: Type.Record(Type.String(), Type.String()),
  docs: Type.String(),
  next: Type.Array(Type.String()),
})

/**
 * `GET /`: what this server is and where to go next, for whoever opens its address in a browser
 * or curls it after a first start. No credentials, nothing about the data.
 */
export const homeRoute: FastifyPluginAsyncTypebox = async (app) => {
  const body = {
    service: 'searchtrack' as const,
    version,
    endpoints: {
      health: '/health',
      ready: '/ready',
      metrics: '/metrics',
      coveo: 'POST /rest/ua/v15/analytics/{search|searches|click|view|custom|collect}',
      workplaceSearch: 'POST /api/ws/v1/analytics/event',
      inbenta: 'POST /v1/auth, /v1/tracking/{session|events|search}',
    },
    docs: 'docs/README.md in the searchtrack repository: protocols, client configuration, administration',
    next: [
      'open this address in a browser for the dashboard (sign in with a key that has analytics:read)',
      'create an organization and a key: npm run cli -- orgs create acme; npm run cli -- keys create --org acme --privileges analytics:push',
      'send an event: see "Quick start" in README.md',
      'look at your events: psql "$(npm run -s cli -- db url)" (README.md, "Where is my data")',
    ],
  }
  // A browser asking for a page gets the dashboard (src/web/); curl and other clients get JSON.
  app.get('/', { schema: { response: { 200: Home } } }, async (request, reply) => {
    if (/\btext\/html\b/.test(String(request.headers.accept ?? '')) && app.hasDecorator('dashboardPage')) {
      const page = app.dashboardPage(request, reply)
      if (page) return page
    }
    return body
  })
}
