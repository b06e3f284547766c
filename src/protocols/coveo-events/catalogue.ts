import { CustomDataKeyError, capCustomData, normalizeCustomData } from '../../events/custom-data.js'
import { Check, checkFields, describe, isObject, type Fields, type Issue, type Rule } from './rules.js'

/**
 * The Event Protocol's event types (`@coveo/relay-event-types` 19.5), their required fields and
 * limits. Widths are the storage widths of the v15 columns the fields land in; fields kept only in
 * `extra` get generous widths so nothing reasonable is cut.
 */

const str = (max: number): Rule => ({ kind: 'string', max })
const ID: Rule = { kind: 'id', max: 128 }
const LABEL: Rule = { kind: 'label' }
const BOOL: Rule = { kind: 'boolean' }
const CURRENCY: Rule = { kind: 'currency' }
// 1-based, counting across pages; smallint-sized as Coveo documents it.
const POSITION: Rule = { kind: 'integer', min: 1, max: 32767 }

const req = (rule: Rule) => ({ rule, required: true })
const opt = (rule: Rule) => ({ rule })

export const ITEM_METADATA: Rule = {
  kind: 'object',
  fields: {
    uniqueFieldName: req(str(128)),
    uniqueFieldValue: req(str(512)),
    title: opt(str(1024)),
    author: opt(str(128)),
    url: opt(str(1024)),
  },
}

const PRODUCT: Rule = {
  kind: 'object',
  fields: {
    productId: req(str(512)),
    name: req(str(1024)),
    price: req({ kind: 'number', min: 0 }),
    variantId: opt(str(512)),
  },
}

const PRODUCT_QUANTITY: Rule = {
  kind: 'object',
  fields: { product: req(PRODUCT), quantity: req({ kind: 'number', above: 0 }) },
}

const TICKET: Rule = {
  kind: 'object',
  fields: { id: req(str(128)), category: opt(str(1024)), description: opt(str(8192)), subject: opt(str(1024)), system: opt(str(1024)) },
}

const CONTEXT: Rule = { kind: 'object', fields: { targetId: req(str(128)), targetType: req(LABEL) } }

const FEEDBACK_DETAILS: Rule = {
  kind: 'object',
  fields: { readable: opt(BOOL), documented: opt(BOOL), correctTopic: opt(BOOL), hallucinationFree: opt(BOOL) },
}

const NOTES = str(2048)

/** Payload fields of each type (everything but `meta`). */
export const CATALOGUE: Readonly<Record<string, Fields>> = {
  // responseId or its deprecated name searchUid is required: checked in judgeEvent.
  itemClick: { responseId: opt(ID), searchUid: opt(ID), position: req(POSITION), itemMetadata: req(ITEM_METADATA), actionCause: opt(str(64)) },
  itemView: { itemMetadata: req(ITEM_METADATA) },
  'ec.productView': { currency: req(CURRENCY), product: req(PRODUCT) },
  'ec.productClick': { position: req(POSITION), responseId: req(ID), currency: req(CURRENCY), product: req(PRODUCT) },
  'ec.cartAction': {
    action: req({ kind: 'enum', values: ['add', 'remove'] }),
    currency: req(CURRENCY),
    product: req(PRODUCT),
    quantity: req({ kind: 'number', above: 0 }),
  },
  'ec.purchase': {
    currency: req(CURRENCY),
    products: req({ kind: 'array', items: PRODUCT_QUANTITY, maxItems: 1000 }),
    transaction: req({ kind: 'object', fields: { id: req(str(128)), revenue: req({ kind: 'number' }) } }),
  },
  'CaseAssist.Start': {},
  'CaseAssist.Cancel': { reason: req(LABEL) },
  'CaseAssist.CreateTicket': { ticket: req(TICKET) },
  'CaseAssist.DocumentSuggestionClick': { responseId: req(ID), position: req(POSITION), itemMetadata: req(ITEM_METADATA) },
  'CaseAssist.DocumentSuggestionFeedback': { responseId: req(ID), itemMetadata: req(ITEM_METADATA), liked: req(BOOL) },
  'CaseAssist.SelectFieldClassification': { responseId: req(ID), classificationId: req(str(128)), autoselected: req(BOOL) },
  'CaseAssist.UpdateField': { fieldName: req(str(128)), fieldValue: req(str(1024)) },
  'InsightPanel.CreateArticle': { context: req(CONTEXT), articleType: opt(LABEL) },
  'InsightPanel.DetachItem': { context: req(CONTEXT), itemMetadata: req(ITEM_METADATA) },
  'InsightPanel.ExpandToFullUI': { context: req(CONTEXT) },
  'InsightPanel.ItemAction': {
    position: req(POSITION),
    itemMetadata: req(ITEM_METADATA),
    context: req(CONTEXT),
    action: req(LABEL),
    responseId: opt(ID),
    searchUid: opt(ID),
    sourceEntityId: opt(str(128)),
  },
  'Rga.AnswerAction': { answerId: req(ID), action: req(LABEL) },
  'Rga.AnswerReceived': { answerId: req(ID), answerGenerated: req(BOOL) },
  'Rga.CitationClick': { answerId: req(ID), citationId: req(str(128)), itemMetadata: req(ITEM_METADATA) },
  'Rga.CitationHover': {
    answerId: req(ID),
    citationId: req(str(128)),
    itemMetadata: req(ITEM_METADATA),
    citationHoverTimeInMs: req({ kind: 'number', min: 0 }),
  },
  'Rga.ResponseLinked': { answerId: req(ID), responseId: req(ID) },
  'Rga.SubmitFeedback': { answerId: req(ID), helpful: req(BOOL), details: req(FEEDBACK_DETAILS), additionalNotes: opt(NOTES), correctAnswerUrl: opt(str(1024)) },
  'SmartSnippets.AnswerAction': { responseId: req(ID), snippetType: req(LABEL), itemMetadata: req(ITEM_METADATA), action: req(LABEL) },
  'SmartSnippets.SourceClick': { responseId: req(ID), snippetType: req(LABEL), itemMetadata: req(ITEM_METADATA) },
  // relay-event-types requires `reason`, but Headless 4.0 sends the event without it.
  'SmartSnippets.SubmitFeedback': { responseId: req(ID), snippetType: req(LABEL), itemMetadata: req(ITEM_METADATA), reason: opt(LABEL), additionalNotes: opt(NOTES) },
}

export const MIN_CLIENT_TS = 1_577_836_800_000 // 2020-01-01, Coveo's documented minimum

const META: Fields = {
  type: req(LABEL), // 1–128 characters, never cut; checked against the catalogue in judgeEvent
  ts: req({ kind: 'integer', min: MIN_CLIENT_TS, max: Number.MAX_SAFE_INTEGER }),
  clientId: req({ kind: 'string', min: 1, max: 128 }),
  config: opt({ kind: 'object', fields: { trackingId: opt(str(128)) } }),
  source: opt({ kind: 'array', items: str(256), maxItems: 32 }),
  userAgent: opt(str(1024)),
  referrer: opt(str(1024)),
  location: opt(str(1024)),
}

const RESERVED_NAMESPACES = new Set(['ec', 'caseassist', 'insightpanel', 'rga', 'smartsnippets'])
const CUSTOM_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/
export const CUSTOM_DATA_JSON_MAX = 32_500

export interface Meta {
  type: string
  ts: number
  clientId: string
  config?: { trackingId?: string }
  source?: string[]
  userAgent?: string
  referrer?: string
  location?: string
  [unknown: string]: unknown
}

/** An event that passed: its cleaned `meta` and payload, and whether its type is a custom one. */
export interface JudgedEvent {
  meta: Meta
  custom: boolean
  /** Catalogue types: the declared fields, cleaned. Custom types: the normalized customData. */
  payload: Record<string, unknown>
  /** Catalogue types: keys the catalogue does not name, as sent. */
  unknown: Record<string, unknown> | null
  truncated: string[]
}

export type Judgement = { ok: true; event: JudgedEvent } | { ok: false; issues: Issue[] }

/**
 * A `meta.type` that is neither in the catalogue nor custom: a reserved namespace (`ec.`, `Rga.`…,
 * or itemClick/itemView in another case) that names no real type is a typo, not a custom event.
 */
function typeIssue(type: string): string | null {
  if (Object.hasOwn(CATALOGUE, type)) return null
  const lower = type.toLowerCase()
  const dot = lower.indexOf('.')
  if (lower === 'itemclick' || lower === 'itemview' || (dot !== -1 && RESERVED_NAMESPACES.has(lower.slice(0, dot)))) {
    return `Unknown event type "${type}": the ${dot === -1 ? 'name' : `"${type.slice(0, dot)}" namespace`} is reserved for the catalogue's types`
  }
  if (!CUSTOM_TYPE.test(type)) {
    return `Event type "${type}" must start with a letter and hold only letters, digits and _ . : - (at most 128 characters)`
  }
  return null
}

/** Judge one element of the body: every fault found (for validation), or the cleaned event. */
export function judgeEvent(raw: unknown): Judgement {
  const check = new Check()
  if (!isObject(raw)) {
    check.issue('InvalidObject', [], `The event must be a JSON object, got ${describe(raw)}`)
    return { ok: false, issues: check.issues }
  }
  const path: (string | number)[] = []
  let meta: Meta | undefined
  if (raw.meta === undefined || raw.meta === null) check.issue('MissingParameter', ['meta'], 'Field "meta" is required')
  else if (!isObject(raw.meta)) check.issue('InvalidObject', ['meta'], `Field "meta" must be a JSON object, got ${describe(raw.meta)}`)
  else {
    path.push('meta')
    meta = checkFields(raw.meta, META, path, check, true) as Meta
    path.pop()
  }
  const type = meta?.type
  const typeProblem = typeof type === 'string' && type.length > 0 ? typeIssue(type) : null
  if (typeProblem) check.issue('InvalidEventType', ['meta', 'type'], typeProblem)

  const fields = typeof type === 'string' && !typeProblem ? CATALOGUE[type] : undefined
  let payload: Record<string, unknown> = {}
  let unknown: Record<string, unknown> | null = null
  const custom = typeof type === 'string' && type !== '' && !typeProblem && fields === undefined
  if (fields) {
    payload = checkFields(raw, fields, path, check, false)
    if (type === 'itemClick' && !Object.hasOwn(raw, 'responseId') && !Object.hasOwn(raw, 'searchUid')) {
      check.issue('MissingParameter', ['responseId'], 'Field "responseId" is required')
    }
    for (const key in raw) {
      if (key !== 'meta' && !Object.hasOwn(fields, key)) (unknown ??= {})[key] = raw[key]
    }
  } else if (custom) {
    payload = customData(raw, check)
  }
  if (check.issues.length > 0 || !meta) return { ok: false, issues: check.issues }
  return { ok: true, event: { meta, custom, payload, unknown, truncated: check.truncated } }
}

/** A custom event's payload as customData, under the v15 key rules and size cap. */
function customData(raw: Record<string, unknown>, check: Check): Record<string, unknown> {
  const data: Record<string, unknown> = {}
  for (const key in raw) if (key !== 'meta') data[key] = raw[key]
  let normalized: Record<string, unknown>
  try {
    normalized = normalizeCustomData(data)
  } catch (err) {
    if (!(err instanceof CustomDataKeyError)) throw err
    check.issue('InvalidObject', [err.keys[err.keys.length - 1]!], err.message)
    return {}
  }
  const capped = capCustomData(normalized, CUSTOM_DATA_JSON_MAX)
  for (const key of capped.dropped) check.truncated.push(key)
  return capped.data
}
