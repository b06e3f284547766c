/** A valid event of every catalogue type (payload fields only; `meta` is added by `event()`). */
const IM = { uniqueFieldName: 'permanentid', uniqueFieldValue: 'perm-2', title: 'Result 2', author: 'Ann Author', url: 'https://ex.com/doc-2' }
const PRODUCT = { productId: 'sku-7', name: 'P7', price: 7.25 }
const CONTEXT = { targetId: 'case-1', targetType: 'Case' }
export const RESPONSE_ID = 'd2219762-4158-47c8-9166-4aa41475ae96'

export const PAYLOADS: Record<string, Record<string, unknown>> = {
  itemClick: { responseId: RESPONSE_ID, position: 2, itemMetadata: IM, actionCause: 'documentOpen' },
  itemView: { itemMetadata: IM },
  'ec.productView': { currency: 'USD', product: PRODUCT },
  'ec.productClick': { position: 3, responseId: RESPONSE_ID, currency: 'USD', product: PRODUCT },
  'ec.cartAction': { action: 'add', currency: 'EUR', product: PRODUCT, quantity: 2 },
  'ec.purchase': { currency: 'USD', products: [{ product: PRODUCT, quantity: 1 }], transaction: { id: 'tx-1', revenue: 7.25 } },
  'CaseAssist.Start': {},
  'CaseAssist.Cancel': { reason: 'solved' },
  'CaseAssist.CreateTicket': { ticket: { id: 'T-1', subject: 'Printer on fire' } },
  'CaseAssist.DocumentSuggestionClick': { responseId: RESPONSE_ID, position: 1, itemMetadata: IM },
  'CaseAssist.DocumentSuggestionFeedback': { responseId: RESPONSE_ID, itemMetadata: IM, liked: false },
  'CaseAssist.SelectFieldClassification': { responseId: RESPONSE_ID, classificationId: 'cls-1', autoselected: true },
  'CaseAssist.UpdateField': { fieldName: 'subject', fieldValue: 'Printer' },
  'InsightPanel.CreateArticle': { context: CONTEXT, articleType: 'Knowledge' },
  'InsightPanel.DetachItem': { context: CONTEXT, itemMetadata: IM },
  'InsightPanel.ExpandToFullUI': { context: CONTEXT },
  'InsightPanel.ItemAction': { position: 4, itemMetadata: IM, context: CONTEXT, action: 'attach', searchUid: RESPONSE_ID },
  'Rga.AnswerAction': { answerId: 'ans-1', action: 'like' },
  'Rga.AnswerReceived': { answerId: 'ans-1', answerGenerated: true },
  'Rga.CitationClick': { answerId: 'ans-1', citationId: 'cit-1', itemMetadata: IM },
  'Rga.CitationHover': { answerId: 'ans-1', citationId: 'cit-1', itemMetadata: IM, citationHoverTimeInMs: 850 },
  'Rga.ResponseLinked': { answerId: 'ans-1', responseId: RESPONSE_ID },
  'Rga.SubmitFeedback': { answerId: 'ans-1', helpful: false, details: { readable: true, hallucinationFree: false }, additionalNotes: 'meh' },
  'SmartSnippets.AnswerAction': { responseId: RESPONSE_ID, snippetType: 'SmartSnippet', itemMetadata: IM, action: 'dislike' },
  'SmartSnippets.SourceClick': { responseId: RESPONSE_ID, snippetType: 'SmartSnippetSuggestion', itemMetadata: IM },
  'SmartSnippets.SubmitFeedback': { responseId: RESPONSE_ID, snippetType: 'SmartSnippet', itemMetadata: IM },
}

/** The stored `type` and `event_value` of each catalogue type (spec'd mapping). */
export const STORED: Record<string, { type: string; event_value: string | null; feedback_score?: number | null }> = {
  itemClick: { type: 'click', event_value: null },
  itemView: { type: 'view', event_value: null },
  'ec.productView': { type: 'view', event_value: null },
  'ec.productClick': { type: 'click', event_value: null },
  'ec.cartAction': { type: 'commerce', event_value: 'add' },
  'ec.purchase': { type: 'commerce', event_value: null },
  'CaseAssist.Start': { type: 'custom', event_value: null },
  'CaseAssist.Cancel': { type: 'custom', event_value: 'solved' },
  'CaseAssist.CreateTicket': { type: 'custom', event_value: 'T-1' },
  'CaseAssist.DocumentSuggestionClick': { type: 'custom', event_value: null },
  'CaseAssist.DocumentSuggestionFeedback': { type: 'custom', event_value: 'dislike', feedback_score: -1 },
  'CaseAssist.SelectFieldClassification': { type: 'custom', event_value: 'cls-1' },
  'CaseAssist.UpdateField': { type: 'custom', event_value: 'subject' },
  'InsightPanel.CreateArticle': { type: 'custom', event_value: 'Knowledge' },
  'InsightPanel.DetachItem': { type: 'custom', event_value: null },
  'InsightPanel.ExpandToFullUI': { type: 'custom', event_value: null },
  'InsightPanel.ItemAction': { type: 'custom', event_value: 'attach' },
  'Rga.AnswerAction': { type: 'custom', event_value: 'like', feedback_score: 1 },
  'Rga.AnswerReceived': { type: 'custom', event_value: 'generated' },
  'Rga.CitationClick': { type: 'custom', event_value: 'cit-1' },
  'Rga.CitationHover': { type: 'custom', event_value: 'cit-1' },
  'Rga.ResponseLinked': { type: 'custom', event_value: null },
  'Rga.SubmitFeedback': { type: 'custom', event_value: 'notHelpful', feedback_score: null },
  'SmartSnippets.AnswerAction': { type: 'custom', event_value: 'dislike', feedback_score: -1 },
  'SmartSnippets.SourceClick': { type: 'custom', event_value: 'SmartSnippetSuggestion' },
  'SmartSnippets.SubmitFeedback': { type: 'custom', event_value: null },
}

/**
 * The required fields of each type, as paths (`a.b`, with `[0]` for the first array item) that a
 * test deletes one at a time; each deletion must be refused as MissingParameter naming the path.
 */
export const REQUIRED: Record<string, string[]> = {
  itemClick: ['position', 'itemMetadata', 'itemMetadata.uniqueFieldName', 'itemMetadata.uniqueFieldValue'],
  itemView: ['itemMetadata', 'itemMetadata.uniqueFieldValue'],
  'ec.productView': ['currency', 'product', 'product.productId', 'product.name', 'product.price'],
  'ec.productClick': ['position', 'responseId', 'currency', 'product'],
  'ec.cartAction': ['action', 'currency', 'product', 'quantity'],
  'ec.purchase': ['currency', 'products', 'transaction', 'transaction.id', 'transaction.revenue', 'products[0].product', 'products[0].quantity'],
  'CaseAssist.Start': [],
  'CaseAssist.Cancel': ['reason'],
  'CaseAssist.CreateTicket': ['ticket', 'ticket.id'],
  'CaseAssist.DocumentSuggestionClick': ['responseId', 'position', 'itemMetadata'],
  'CaseAssist.DocumentSuggestionFeedback': ['responseId', 'itemMetadata', 'liked'],
  'CaseAssist.SelectFieldClassification': ['responseId', 'classificationId', 'autoselected'],
  'CaseAssist.UpdateField': ['fieldName', 'fieldValue'],
  'InsightPanel.CreateArticle': ['context', 'context.targetId', 'context.targetType'],
  'InsightPanel.DetachItem': ['context', 'itemMetadata'],
  'InsightPanel.ExpandToFullUI': ['context'],
  'InsightPanel.ItemAction': ['position', 'itemMetadata', 'context', 'action'],
  'Rga.AnswerAction': ['answerId', 'action'],
  'Rga.AnswerReceived': ['answerId', 'answerGenerated'],
  'Rga.CitationClick': ['answerId', 'citationId', 'itemMetadata'],
  'Rga.CitationHover': ['answerId', 'citationId', 'itemMetadata', 'citationHoverTimeInMs'],
  'Rga.ResponseLinked': ['answerId', 'responseId'],
  'Rga.SubmitFeedback': ['answerId', 'helpful', 'details'],
  'SmartSnippets.AnswerAction': ['responseId', 'snippetType', 'itemMetadata', 'action'],
  'SmartSnippets.SourceClick': ['responseId', 'snippetType', 'itemMetadata'],
  'SmartSnippets.SubmitFeedback': ['responseId', 'snippetType', 'itemMetadata'],
}

export const CLIENT_ID = '7e15080f-6e73-4a6d-8b55-e90e2cc2068d'

export function meta(type: string, more: Record<string, unknown> = {}) {
  return {
    type,
    config: { trackingId: 'compat_site' },
    ts: 1796154526314,
    source: ['@coveo/headless@4.0.0', 'relay@1.2.6'],
    clientId: CLIENT_ID,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
    referrer: null,
    location: 'http://127.0.0.1:18422/h',
    ...more,
  }
}

export function event(type: string, payload: Record<string, unknown> = PAYLOADS[type]!, metaFields: Record<string, unknown> = {}) {
  return { ...structuredClone(payload), meta: meta(type, metaFields) }
}

/** A deep copy of `value` without the field at `path` (`a.b`, `a[0].b`). */
export function without(value: Record<string, unknown>, path: string): Record<string, unknown> {
  const copy = structuredClone(value)
  const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.')
  let at: Record<string, unknown> = copy
  for (const part of parts.slice(0, -1)) at = at[part] as Record<string, unknown>
  delete at[parts[parts.length - 1]!]
  return copy
}

/** A deep copy of `value` with the field at `path` set. */
export function withField(value: Record<string, unknown>, path: string, field: unknown): Record<string, unknown> {
  const copy = structuredClone(value)
  const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.')
  let at: Record<string, unknown> = copy
  for (const part of parts.slice(0, -1)) at = at[part] as Record<string, unknown>
  at[parts[parts.length - 1]!] = field
  return copy
}
