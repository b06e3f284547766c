import { truncate } from '../../events/truncate.js'

/** A click as stored: request_id "" already turned into null, the query cut to its width. */
export interface Click {
  engine: string
  query: string
  documentId: string
  requestId: string | null
  tags?: string[]
  /** Body keys App Search does not name, kept in `extra`. */
  unknown: Record<string, unknown>
}

export type ClickValidation = { ok: true; click: Click; truncated: string[] } | { ok: false; errors: string[] }

const KNOWN = new Set(['query', 'document_id', 'request_id', 'tags'])
const ENGINE_MAX = 128
const QUERY_MAX = 500
const DOCUMENT_ID_MAX = 512
const REQUEST_ID_MAX = 128
const TAGS_MAX = 16
const TAG_MAX = 64

/**
 * The click's fields, one message per fault in App Search's wording where it is known
 * (`Missing required parameter: query`). Each field comes from the JSON body, else from the
 * query string (Elastic's Ruby client sends them there, with an empty body).
 */
export function validateClick(engine: string, body: unknown, query: Record<string, unknown>): ClickValidation {
  const errors: string[] = []
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    return { ok: false, errors: ['The request body must be a JSON object'] }
  }
  const source = (body ?? {}) as Record<string, unknown>
  const field = (name: string): unknown => (Object.hasOwn(source, name) ? source[name] : query[name])
  const truncated: string[] = []

  if (engine.length === 0 || engine.length > ENGINE_MAX) errors.push(`The engine name must be 1 to ${ENGINE_MAX} characters long`)

  let queryText = field('query')
  if (queryText === undefined || queryText === null) errors.push('Missing required parameter: query')
  else if (typeof queryText !== 'string') errors.push('query must be a string')
  else if (queryText.length > QUERY_MAX) {
    queryText = truncate(queryText, QUERY_MAX)
    truncated.push('query')
  }

  const documentId = field('document_id')
  if (documentId === undefined || documentId === null) errors.push('Missing required parameter: document_id')
  else if (typeof documentId !== 'string') errors.push('document_id must be a string')
  else if (documentId.length === 0 || documentId.length > DOCUMENT_ID_MAX) errors.push(`document_id must be 1 to ${DOCUMENT_ID_MAX} characters long`)

  const requestId = field('request_id')
  if (requestId !== undefined && requestId !== null) {
    if (typeof requestId !== 'string') errors.push('request_id must be a string')
    else if (requestId.length > REQUEST_ID_MAX) errors.push(`request_id must be at most ${REQUEST_ID_MAX} characters long`)
  }

  // A query-string `tags[]=a&tags[]=b` or `tags=a` arrives as a string or an array of strings.
  let tags = field('tags') ?? query['tags[]']
  if (typeof tags === 'string' && !Object.hasOwn(source, 'tags')) tags = [tags]
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) errors.push('tags must be an array of strings')
    else {
      if (tags.length > TAGS_MAX) errors.push(`tags must hold at most ${TAGS_MAX} tags`)
      for (const tag of tags as string[]) if (tag.length > TAG_MAX) errors.push(`tag ${JSON.stringify(truncate(tag, 80))} must be at most ${TAG_MAX} characters long`)
    }
  }

  if (errors.length > 0) return { ok: false, errors }
  const unknown: Record<string, unknown> = {}
  for (const key in source) if (!KNOWN.has(key)) unknown[key] = source[key]
  return {
    ok: true,
    truncated,
    click: {
      engine,
      query: queryText as string,
      documentId: documentId as string,
      requestId: typeof requestId === 'string' && requestId !== '' ? requestId : null,
      ...(Array.isArray(tags) ? { tags: tags as string[] } : {}),
      unknown,
    },
  }
}
