import type { FastifyInstance } from 'fastify'

/** All stored columns of the org's events, oldest first (the assertions read what was stored). */
export async function storedEvents(app: FastifyInstance, orgId = 'acme'): Promise<Array<Record<string, unknown>>> {
  const { rows } = await app.db.query('SELECT * FROM events WHERE org_id = $1 ORDER BY event_id', [orgId])
  return rows
}

export const SEARCH = {
  language: 'en',
  queryText: 'hello world',
  actionCause: 'searchboxSubmit',
  responseTime: 123,
  numberOfResults: 42,
  searchQueryUid: '11111111-2222-4333-8444-555555555555',
}

export const CLICK = {
  language: 'en',
  actionCause: 'documentOpen',
  documentPosition: 3,
  sourceName: 'Docs',
  searchQueryUid: '11111111-2222-4333-8444-555555555555',
}

export const CUSTOM = { language: 'en', eventType: 'facet', eventValue: 'facetSearch' }

export const VIEW = { location: 'https://shop.example.com/p1' }
