import type { EventInput } from '../../events/event.js'
import { truncate } from '../../events/truncate.js'
import { CustomDataKeyError, capCustomData, normalizeCustomData } from '../../events/custom-data.js'
import { CoveoError } from './errors.js'

/** The event kinds of the v15 body-per-event paths (collect is free-form, see parseCollect). */
export type CoveoEventType = 'search' | 'click' | 'custom' | 'view'

type Column = keyof EventInput

interface FieldSpec {
  kind: 'string' | 'integer' | 'boolean' | 'object' | 'array'
  /** Strings longer than this are truncated (and logged), never refused. */
  max?: number
  min?: number
  maxValue?: number
  /** The TrackedEvent field it fills; without one the (validated) value is kept in `extra`. */
  column?: Column
}

const PG_INT_MAX = 2_147_483_647
const str = (max: number, column?: Column): FieldSpec => ({ kind: 'string', max, column })
const count = (column?: Column): FieldSpec => ({ kind: 'integer', min: 0, maxValue: PG_INT_MAX, column })

// Lengths as Coveo documents them (docs/protocols/coveo-ua-v15.md lists each): sourceName 512 and
// originLevel3 128, as Coveo's own reference pages give them.
export const SEARCH_QUERY_UID_MAX = 36
export const VISITOR_MAX = 128
export const CONTENT_ID_KEY_MAX = 128
export const CONTENT_ID_VALUE_MAX = 512
export const CUSTOM_DATA_JSON_MAX = 32_500

const COMMON: Record<string, FieldSpec> = {
  language: str(256, 'language'),
  userAgent: str(1024, 'userAgent'),
  originLevel1: str(128, 'originLevel1'),
  originLevel2: str(128, 'originLevel2'),
  originLevel3: str(128, 'originLevel3'),
  originContext: str(128, 'originContext'),
  username: str(128, 'username'),
  userDisplayName: str(128, 'userDisplayName'),
  anonymous: { kind: 'boolean', column: 'anonymous' },
  clientId: { kind: 'string' },
  customData: { kind: 'object' },
  outcome: { kind: 'integer', min: -5, maxValue: 5, column: 'outcome' },
  queryPipeline: str(128, 'queryPipeline'),
  splitTestRunName: str(128),
  splitTestRunVersion: str(128),
  trackingId: str(128),
  mobile: { kind: 'boolean' },
}

const FACET_STATE: FieldSpec = { kind: 'array' }

const BY_TYPE: Record<CoveoEventType, Record<string, FieldSpec>> = {
  search: {
    ...COMMON,
    searchQueryUid: str(SEARCH_QUERY_UID_MAX, 'searchQueryUid'),
    queryText: str(500, 'queryText'),
    advancedQuery: str(2048, 'advancedQuery'),
    actionCause: str(64, 'actionCause'),
    actionType: str(128, 'actionType'),
    responseTime: count('responseTimeMs'),
    numberOfResults: count('numberOfResults'),
    contextual: { kind: 'boolean' },
    results: { kind: 'array' },
    facetState: FACET_STATE,
  },
  click: {
    ...COMMON,
    searchQueryUid: str(SEARCH_QUERY_UID_MAX, 'searchQueryUid'),
    actionCause: str(64, 'actionCause'),
    actionType: str(128, 'actionType'),
    documentPosition: { kind: 'integer', min: 1, maxValue: PG_INT_MAX, column: 'documentPosition' },
    documentTitle: str(1024, 'documentTitle'),
    documentUrl: str(1024, 'documentUrl'),
    documentUri: str(1024),
    documentUriHash: str(128),
    documentAuthor: str(128),
    documentCategory: str(128),
    sourceName: str(512, 'sourceName'),
    collectionName: str(128),
    rankingModifier: str(128),
    viewMethod: str(128),
    facetState: FACET_STATE,
  },
  custom: {
    ...COMMON,
    eventType: str(128, 'eventType'),
    eventValue: str(128, 'eventValue'),
    lastSearchQueryUid: str(SEARCH_QUERY_UID_MAX, 'lastSearchQueryUid'),
    facetState: FACET_STATE,
  },
  view: {
    ...COMMON,
    location: str(1024, 'documentUrl'),
    referrer: str(1024),
    title: str(1024, 'documentTitle'),
    contentIdKey: str(CONTENT_ID_KEY_MAX),
    contentIdValue: str(CONTENT_ID_VALUE_MAX, 'documentId'),
    contentType: str(128),
  },
}

const REQUIRED: Record<CoveoEventType, string[]> = {
  search: ['actionCause', 'language', 'queryText', 'responseTime', 'searchQueryUid'],
  click: ['actionCause', 'documentPosition', 'language', 'searchQueryUid', 'sourceName'],
  custom: ['eventType', 'eventValue', 'language'],
  view: ['location'],
}

const FACET_STATE_REQUIRED = ['field', 'id', 'value', 'state', 'facetType']

export interface ParsedEvent {
  /** The event's own fields, before identity, visitor and enrichment are applied. */
  fields: Partial<EventInput>
  /** The body's clientId (truncated), if it sent one. */
  clientId?: string
  /** The body's username, honoured only with the impersonate privilege. */
  username?: string
  /** Names of fields whose values were cut to their column's length. */
  truncated: string[]
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

function checkKind(name: string, value: unknown, spec: FieldSpec): void {
  const wrong = (expected: string) =>
    new CoveoError(400, 'InvalidObject', `Field "${name}" must be ${expected}, got ${describe(value)}`)
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string') throw wrong('a string')
      return
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong('a boolean')
      return
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrong('a JSON object')
      return
    case 'array':
      if (!Array.isArray(value)) throw wrong('an array')
      return
    case 'integer': {
      const range = `an integer from ${spec.min} to ${spec.maxValue}`
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrong(range)
      if ((spec.min !== undefined && value < spec.min) || (spec.maxValue !== undefined && value > spec.maxValue)) {
        throw new CoveoError(400, 'InvalidObject', `Field "${name}" must be ${range}, got ${value}`)
      }
    }
  }
}

function checkFacetState(items: unknown[]): void {
  items.forEach((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new CoveoError(400, 'InvalidObject', `Field "facetState[${i}]" must be a JSON object, got ${describe(item)}`)
    }
    for (const key of FACET_STATE_REQUIRED) {
      const value = (item as Record<string, unknown>)[key]
      if (value === undefined || value === null) {
        throw new CoveoError(400, 'MissingParameter', `Field "facetState[${i}].${key}" is required`)
      }
    }
  })
}

/**
 * Validate one v15 event body and map it to the canonical fields. Known fields are type-checked
 * and truncated; fields without a column and unknown keys are kept in `extra` so nothing the
 * client sent is lost. Null counts as absent (clients send `null` for unset optional fields).
 */
export function parseEvent(type: CoveoEventType, body: unknown): ParsedEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CoveoError(400, 'InvalidObject', `The ${type} event must be a JSON object, got ${describe(body)}`)
  }
  const source = body as Record<string, unknown>
  for (const name of REQUIRED[type]) {
    if (source[name] === undefined || source[name] === null) {
      throw new CoveoError(400, 'MissingParameter', `Field "${name}" is required for a ${type} event`)
    }
  }
  const specs = BY_TYPE[type]
  const fields: Record<string, unknown> = {}
  const extra: Record<string, unknown> = {}
  const truncated: string[] = []
  const parsed: ParsedEvent = { fields: fields as Partial<EventInput>, truncated }
  let extras = 0

  // for…in rather than Object.entries: no [key, value] array per field of every event.
  for (const name in source) {
    const raw = source[name]
    const spec = specs[name]
    if (!spec) {
      extra[name] = raw
      extras++
      continue
    }
    if (raw === null || raw === undefined) continue
    checkKind(name, raw, spec)
    let value = raw
    if (spec.kind === 'string' && spec.max !== undefined && (raw as string).length > spec.max) {
      value = truncate(raw as string, spec.max)
      truncated.push(name)
    }
    if (name === 'facetState') checkFacetState(value as unknown[])
    if (name === 'clientId') {
      parsed.clientId = truncateTracked(value as string, VISITOR_MAX, name, truncated)
    } else if (name === 'username') {
      parsed.username = value as string
    } else if (name === 'customData') {
      fields.customData = parseCustomData(value as Record<string, unknown>, truncated)
    } else if (spec.column) {
      fields[spec.column] = value
    } else {
      extra[name] = value
      extras++
    }
  }

  if (type === 'click' && applyClickContentId(fields, extra, truncated)) extras++
  if (extras > 0) fields.extra = extra
  return parsed
}

function truncateTracked(value: string, max: number, name: string, truncated: string[]): string {
  if (value.length <= max) return value
  truncated.push(name)
  return truncate(value, max)
}

function parseCustomData(data: Record<string, unknown>, truncated: string[]): Record<string, unknown> {
  let normalized: Record<string, unknown>
  try {
    normalized = normalizeCustomData(data)
  } catch (err) {
    if (err instanceof CustomDataKeyError) throw new CoveoError(400, 'InvalidObject', err.message)
    throw err
  }
  const capped = capCustomData(normalized, CUSTOM_DATA_JSON_MAX)
  for (const key of capped.dropped) truncated.push(`customData.${key}`)
  return capped.data
}

/**
 * Clicks carry the clicked item's id in customData (`contentIDKey`/`contentIDValue`, capital ID,
 * normalized here to lowercase keys); the value is the event's document id.
 */
function applyClickContentId(fields: Record<string, unknown>, extra: Record<string, unknown>, truncated: string[]): boolean {
  const data = fields.customData as Record<string, unknown> | undefined
  if (!data) return false
  for (const [key, max, name] of [
    ['contentidkey', CONTENT_ID_KEY_MAX, 'customData.contentIDKey'],
    ['contentidvalue', CONTENT_ID_VALUE_MAX, 'customData.contentIDValue'],
  ] as const) {
    const value = data[key]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string') {
      throw new CoveoError(400, 'InvalidObject', `Field "${name}" must be a string, got ${describe(value)}`)
    }
    data[key] = truncateTracked(value, max, name, truncated)
  }
  if (typeof data.contentidvalue === 'string') fields.documentId = data.contentidvalue
  if (typeof data.contentidkey !== 'string') return false
  extra.contentIdKey = data.contentidkey
  return true
}
