import { truncate } from '../../events/truncate.js'

/**
 * Behavioral Analytics events (`page_view`, `search`, `search_click`), checked as Elasticsearch's
 * parsers check them: the first fault refuses the event with a reason naming the field, in
 * Elasticsearch's own words where they are known (`field [id] can't be blank`). Unknown keys are
 * kept (Elasticsearch refused them; a collector loses nothing by keeping them in `extra`).
 */
export const EVENT_TYPES = ['page_view', 'search', 'search_click'] as const
export type BehavioralEventType = (typeof EVENT_TYPES)[number]

/** A refusal: `reason` for the event as a whole, `detail` for the field (what the tracker logs). */
export class EventParseError extends Error {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {
    super(detail)
  }
}

export interface SearchField {
  query: string
  searchApplication?: string
  filters?: Record<string, string | string[]>
  page?: { current: number; size: number }
  sort?: { name: string; direction?: string } | Array<{ name: string; direction?: string }>
  results?: { items?: Array<Record<string, unknown>>; total_results?: number }
  /** Keys of `search` the parser does not name. */
  unknown?: Record<string, unknown>
}

export interface ParsedEvent {
  type: BehavioralEventType
  userId: string
  sessionId: string
  page?: { url: string; title?: string; referrer?: string }
  document?: { id: string; index?: string }
  search?: SearchField
  /** Top-level keys the parser does not name, and unknown keys of user/session/page/document. */
  unknown: Record<string, unknown>
  truncated: string[]
}

const INT4_MAX = 2_147_483_647
const ID_MAX = 128
const QUERY_MAX = 500
const URL_MAX = 1024
const DOCUMENT_ID_MAX = 512
const NAME_MAX = 128

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads one event; throws EventParseError on the first fault. */
class Reader {
  readonly truncated: string[] = []
  constructor(private readonly type: BehavioralEventType) {}

  fail(path: string, detail: string): never {
    throw new EventParseError(`[${this.type}] failed to parse field [${path}]`, detail)
  }

  object(parent: Record<string, unknown>, name: string, path: string, required: boolean): Record<string, unknown> | undefined {
    const value = parent[name]
    if (value === undefined || value === null) {
      if (required) this.fail(path, `field [${name}] is required`)
      return undefined
    }
    if (!isObject(value)) this.fail(path, `field [${name}] must be an object`)
    return value
  }

  string(parent: Record<string, unknown>, name: string, path: string, max: number, rule: 'required' | 'not-blank' | 'optional'): string | undefined {
    const value = parent[name]
    if (value === undefined || value === null) {
      if (rule !== 'optional') this.fail(path, `field [${name}] is required`)
      return undefined
    }
    if (typeof value !== 'string') this.fail(path, `field [${name}] must be a string`)
    if (rule === 'not-blank' && value.trim() === '') this.fail(path, `field [${name}] can't be blank`)
    if (value.length <= max) return value
    this.truncated.push(path)
    return truncate(value, max)
  }

  integer(parent: Record<string, unknown>, name: string, path: string, required: boolean): number | undefined {
    const value = parent[name]
    if (value === undefined || value === null) {
      if (required) this.fail(path, `field [${name}] is required`)
      return undefined
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT4_MAX) {
      this.fail(path, `field [${name}] must be an integer from 0 to ${INT4_MAX}`)
    }
    return value
  }
}

function others(source: Record<string, unknown>, known: readonly string[]): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined
  for (const key in source) if (!known.includes(key)) (out ??= {})[key] = source[key]
  return out
}

export function parseEvent(type: BehavioralEventType, body: unknown): ParsedEvent {
  const r = new Reader(type)
  if (!isObject(body)) throw new EventParseError(`[${type}] failed to parse the event`, 'the request body must be a JSON object')
  const unknown: Record<string, unknown> = {}

  const user = r.object(body, 'user', 'user', true)!
  const userId = r.string(user, 'id', 'user.id', ID_MAX, 'not-blank')!
  const session = r.object(body, 'session', 'session', true)!
  const sessionId = r.string(session, 'id', 'session.id', ID_MAX, 'not-blank')!
  const userOthers = others(user, ['id'])
  if (userOthers) unknown.user = userOthers
  const sessionOthers = others(session, ['id'])
  if (sessionOthers) unknown.session = sessionOthers

  let page: ParsedEvent['page']
  const pageObject = r.object(body, 'page', 'page', type === 'page_view')
  if (pageObject) {
    page = { url: r.string(pageObject, 'url', 'page.url', URL_MAX, 'required')! }
    const title = r.string(pageObject, 'title', 'page.title', URL_MAX, 'optional')
    const referrer = r.string(pageObject, 'referrer', 'page.referrer', URL_MAX, 'optional')
    if (title !== undefined) page.title = title
    if (referrer !== undefined) page.referrer = referrer
    const pageOthers = others(pageObject, ['url', 'title', 'referrer'])
    if (pageOthers) unknown.page = pageOthers
  }

  let document: ParsedEvent['document']
  const documentObject = r.object(body, 'document', 'document', false)
  if (documentObject) {
    document = { id: r.string(documentObject, 'id', 'document.id', DOCUMENT_ID_MAX, 'not-blank')! }
    const index = r.string(documentObject, 'index', 'document.index', 512, 'optional')
    if (index !== undefined) document.index = index
    const documentOthers = others(documentObject, ['id', 'index'])
    if (documentOthers) unknown.document = documentOthers
  }
  if (type === 'search_click' && !document && !page) r.fail('search_click', 'a search_click event needs a [document] or a [page] field')

  let search: SearchField | undefined
  const searchObject = r.object(body, 'search', 'search', type !== 'page_view')
  if (searchObject) search = parseSearch(r, searchObject)

  for (const key in body) if (!['user', 'session', 'page', 'document', 'search'].includes(key)) unknown[key] = body[key]
  return { type, userId, sessionId, page, document, search, unknown, truncated: r.truncated }
}

function parseSearch(r: Reader, source: Record<string, unknown>): SearchField {
  const search: SearchField = { query: r.string(source, 'query', 'search.query', QUERY_MAX, 'required')! }
  const application = r.string(source, 'search_application', 'search.search_application', NAME_MAX, 'optional')
  if (application !== undefined) search.searchApplication = application
  if (source.filters !== undefined && source.filters !== null) search.filters = parseFilters(r, source.filters)

  const page = r.object(source, 'page', 'search.page', false)
  if (page) search.page = { current: r.integer(page, 'current', 'search.page.current', true)!, size: r.integer(page, 'size', 'search.page.size', true)! }

  const sort = source.sort
  if (sort !== undefined && sort !== null) {
    // Elasticsearch takes an object; the tracker's types and Search UI's plugin send an array.
    const one = (value: unknown, path: string) => {
      if (!isObject(value)) r.fail(path, 'field [sort] must be an object')
      const name = r.string(value, 'name', `${path}.name`, NAME_MAX, 'not-blank')!
      const direction = r.string(value, 'direction', `${path}.direction`, 16, 'optional')
      return direction === undefined ? { name } : { name, direction }
    }
    if (Array.isArray(sort)) {
      const all = sort.map((item, i) => one(item, `search.sort[${i}]`))
      if (all.length === 1) search.sort = all[0]
      else if (all.length > 1) search.sort = all
    } else search.sort = one(sort, 'search.sort')
  }

  const results = r.object(source, 'results', 'search.results', false)
  if (results) {
    search.results = {}
    const items = results.items
    if (items !== undefined && items !== null) {
      if (!Array.isArray(items)) r.fail('search.results.items', 'field [items] must be an array')
      search.results.items = items.map((item, i) => {
        const path = `search.results.items[${i}]`
        if (!isObject(item)) r.fail(path, 'a result item must be an object')
        const document = r.object(item, 'document', `${path}.document`, false)
        if (document) {
          r.string(document, 'id', `${path}.document.id`, DOCUMENT_ID_MAX, 'not-blank')
          r.string(document, 'index', `${path}.document.index`, 512, 'optional')
        }
        const page = r.object(item, 'page', `${path}.page`, false)
        if (page) r.string(page, 'url', `${path}.page.url`, URL_MAX, 'required')
        return item
      })
    }
    const total = r.integer(results, 'total_results', 'search.results.total_results', false)
    if (total !== undefined) search.results.total_results = total
  }
  const searchOthers = others(source, ['query', 'search_application', 'filters', 'page', 'sort', 'results'])
  if (searchOthers) search.unknown = searchOthers
  return search
}

/**
 * `{field: value | [values]}` (what Elasticsearch parses and Search UI's plugin sends), or the
 * tracker README's `[{field, value: [...]}]`, stored in the object form.
 */
function parseFilters(r: Reader, filters: unknown): Record<string, string | string[]> {
  // Field names are data: a filter on "__proto__" must be a key like any other.
  const out = Object.create(null) as Record<string, string | string[]>
  const value = (field: string, v: unknown, path: string) => {
    if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) return v as string | string[]
    return r.fail(path, `[${field}] must be a string or an array of string.`)
  }
  if (Array.isArray(filters)) {
    filters.forEach((filter, i) => {
      const path = `search.filters[${i}]`
      if (!isObject(filter) || typeof filter.field !== 'string' || filter.field === '') r.fail(path, 'a filter must be an object with a [field] string')
      out[filter.field as string] = value(filter.field as string, filter.value ?? filter.values, path)
    })
    return out
  }
  if (!isObject(filters)) r.fail('search.filters', 'field [filters] must be an object')
  for (const field in filters) out[field] = value(field, filters[field], `search.filters.${field}`)
  return out
}
