import type { Principal } from '../../auth/principal.js'
import { classifyUserAgent, type UserAgentInfo } from '../../events/enrich.js'
import type { EventInput, EventType } from '../../events/event.js'
import { truncate } from '../../events/truncate.js'
import type { JudgedEvent } from './catalogue.js'

/** What every event of a request shares, worked out once per request. */
export interface RequestContext {
  principal: Principal
  userAgent: string | null
  ua: UserAgentInfo
  clientIp: string | null
}

// The v15 column width of originLevel3, which holds the referrer as coveo.analytics sends it.
const ORIGIN_LEVEL3_MAX = 128

type Item = { uniqueFieldName: string; uniqueFieldValue: string; title?: string; author?: string; url?: string }
type Product = { productId: string; name: string; price: number; variantId?: string }

/**
 * `eventValue` of the catalogue types stored as `custom`, from one of their fields (null for the
 * types not listed). The boolean fields become words so a report can count them.
 */
const EVENT_VALUE: Readonly<Record<string, (p: Record<string, unknown>) => string | null>> = {
  'SmartSnippets.AnswerAction': (p) => p.action as string,
  'Rga.AnswerAction': (p) => p.action as string,
  'InsightPanel.ItemAction': (p) => p.action as string,
  'SmartSnippets.SubmitFeedback': (p) => (p.reason as string | undefined) ?? null,
  'CaseAssist.Cancel': (p) => p.reason as string,
  'SmartSnippets.SourceClick': (p) => p.snippetType as string,
  'Rga.CitationClick': (p) => p.citationId as string,
  'Rga.CitationHover': (p) => p.citationId as string,
  'Rga.AnswerReceived': (p) => (p.answerGenerated ? 'generated' : 'notGenerated'),
  'Rga.SubmitFeedback': (p) => (p.helpful ? 'helpful' : 'notHelpful'),
  'CaseAssist.DocumentSuggestionFeedback': (p) => (p.liked ? 'like' : 'dislike'),
  'CaseAssist.SelectFieldClassification': (p) => p.classificationId as string,
  'CaseAssist.UpdateField': (p) => p.fieldName as string,
  'CaseAssist.CreateTicket': (p) => (p.ticket as { id: string }).id,
  'InsightPanel.CreateArticle': (p) => (p.articleType as string | undefined) ?? null,
}

/** The field an eventValue was copied from verbatim: not repeated in `extra`. */
const EVENT_VALUE_SOURCE: Readonly<Record<string, string>> = {
  'SmartSnippets.AnswerAction': 'action',
  'Rga.AnswerAction': 'action',
  'InsightPanel.ItemAction': 'action',
  'SmartSnippets.SubmitFeedback': 'reason',
  'CaseAssist.Cancel': 'reason',
  'SmartSnippets.SourceClick': 'snippetType',
  'Rga.CitationClick': 'citationId',
  'Rga.CitationHover': 'citationId',
  'CaseAssist.SelectFieldClassification': 'classificationId',
  'CaseAssist.UpdateField': 'fieldName',
  'InsightPanel.CreateArticle': 'articleType',
}

function feedbackScore(type: string, p: Record<string, unknown>): number | null {
  if (type === 'SmartSnippets.AnswerAction' || type === 'Rga.AnswerAction') {
    return p.action === 'like' ? 1 : p.action === 'dislike' ? -1 : null
  }
  if (type === 'CaseAssist.DocumentSuggestionFeedback') return p.liked ? 1 : -1
  return null
}

/**
 * One judged event as the canonical event's fields (spec'd mapping: clicks keep `responseId` as
 * their search id, commerce events fill price/quantity/revenue, the rest are custom rows whose
 * `eventType` is always the original `meta.type`).
 */
export function toEventInput(event: JudgedEvent, ctx: RequestContext): EventInput {
  const { meta, payload } = event
  const { principal } = ctx
  const type = meta.type
  const extra: Record<string, unknown> = { clientTs: meta.ts }
  if (meta.source !== undefined) extra.source = meta.source
  if (meta.location !== undefined) extra.location = meta.location
  const referrer = meta.referrer ?? null
  if (referrer !== null && referrer.length > ORIGIN_LEVEL3_MAX) extra.referrer = referrer
  const otherMeta = others(meta, META_KEYS)
  if (otherMeta) extra.meta = otherMeta
  const otherConfig = meta.config && others(meta.config, CONFIG_KEYS)
  if (otherConfig) extra.config = otherConfig
  if (event.unknown) Object.assign(extra, event.unknown)

  const userAgent = meta.userAgent ?? ctx.userAgent
  const ua = userAgent === ctx.userAgent ? ctx.ua : classifyUserAgent(userAgent)
  const input: EventInput = {
    orgId: principal.orgId,
    protocol: 'coveo-events',
    type: 'custom',
    visitorId: meta.clientId,
    username: principal.kind === 'search-token' ? (principal.userId ?? null) : 'anonymous',
    userDisplayName: principal.userDisplayName ? truncate(principal.userDisplayName, 128) : null,
    anonymous: false,
    originLevel1: principal.searchHub ? truncate(principal.searchHub, 128) : null,
    originLevel3: referrer === null || referrer === '' ? null : truncate(referrer, ORIGIN_LEVEL3_MAX),
    queryPipeline: principal.pipeline ? truncate(principal.pipeline, 128) : null,
    eventType: type,
    userAgent,
    browser: ua.browser,
    os: ua.os,
    deviceCategory: ua.deviceCategory,
    isBot: ua.isBot,
    clientIp: ctx.clientIp,
    trackingId: meta.config?.trackingId || null,
    extra,
  }

  if (event.custom) {
    input.customData = payload
    return input
  }

  const responseId = (payload.responseId ?? payload.searchUid ?? null) as string | null
  const item = payload.itemMetadata as Item | undefined
  const product = payload.product as Product | undefined
  let mapped: EventType = 'custom'
  const used = new Set(['responseId', 'searchUid', 'position', 'itemMetadata', 'product', 'currency'])

  if (item) {
    input.documentId = item.uniqueFieldValue
    input.documentTitle = item.title ?? null
    input.documentUrl = item.url ?? null
    extra.contentIdKey = item.uniqueFieldName
    if (item.author !== undefined) extra.documentAuthor = item.author
    const otherItem = others(item, ITEM_KEYS)
    if (otherItem) extra.itemMetadata = otherItem
  }
  if (product) {
    input.documentId = product.productId
    input.documentTitle = product.name
    input.price = product.price
    if (product.variantId !== undefined) extra.variantId = product.variantId
    const otherProduct = others(product, PRODUCT_KEYS)
    if (otherProduct) extra.product = otherProduct
  }
  if (payload.currency !== undefined) input.currency = payload.currency as string
  if (payload.position !== undefined) input.documentPosition = payload.position as number

  switch (type) {
    case 'itemClick':
      mapped = 'click'
      input.searchQueryUid = responseId
      input.actionCause = (payload.actionCause as string | undefined) ?? null
      used.add('actionCause')
      break
    case 'itemView':
    case 'ec.productView':
      mapped = 'view'
      break
    case 'ec.productClick':
      mapped = 'click'
      input.searchQueryUid = responseId
      break
    case 'ec.cartAction':
      mapped = 'commerce'
      input.eventValue = payload.action as string
      input.quantity = payload.quantity as number
      used.add('action').add('quantity')
      break
    case 'ec.purchase': {
      mapped = 'commerce'
      const transaction = payload.transaction as { id: string; revenue: number }
      input.revenue = transaction.revenue
      input.transactionId = transaction.id
      extra.products = payload.products
      const { id: _id, revenue: _revenue, ...rest } = transaction
      if (Object.keys(rest).length > 0) extra.transaction = rest
      used.add('transaction').add('products')
      break
    }
    default:
      input.lastSearchQueryUid = responseId
      input.eventValue = EVENT_VALUE[type]?.(payload) ?? null
      input.feedbackScore = feedbackScore(type, payload)
      if (EVENT_VALUE_SOURCE[type]) used.add(EVENT_VALUE_SOURCE[type])
  }
  input.type = mapped
  for (const key in payload) if (!used.has(key)) extra[key] = payload[key]
  return input
}

const META_KEYS = new Set(['type', 'ts', 'clientId', 'config', 'source', 'userAgent', 'referrer', 'location'])
const CONFIG_KEYS = new Set(['trackingId'])
const ITEM_KEYS = new Set(['uniqueFieldName', 'uniqueFieldValue', 'title', 'author', 'url'])
const PRODUCT_KEYS = new Set(['productId', 'name', 'price', 'variantId'])

/** The keys of an object the mapping has no place for (kept in `extra`), or undefined. */
function others(source: object, known: ReadonlySet<string>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined
  for (const key in source) if (!known.has(key)) (out ??= {})[key] = (source as Record<string, unknown>)[key]
  return out
}
