import { randomFillSync, randomInt } from 'node:crypto'
import { v7 as uuidv7 } from 'uuid'

/** The protocol an event arrived through; adapters set it, reports may filter on it. */
export type Protocol = 'coveo' | 'coveo-events' | 'workplace' | 'inbenta' | 'app-search' | 'behavioral-analytics'

/**
 * Kinds of event in the one model. A click is a click whoever sent it; protocol-specific kinds
 * (Inbenta session actions, Measurement-Protocol collects) keep their details in `extra`.
 * `commerce` is a cart change or a purchase (price, quantity, revenue in their own columns).
 */
export type EventType = 'search' | 'click' | 'view' | 'custom' | 'collect' | 'feedback' | 'session' | 'commerce'

/**
 * The canonical event: what every protocol adapter produces and the writer stores.
 * Field names mirror the `events` columns (camelCase here, snake_case there).
 */
export interface TrackedEvent {
  eventId: string
  orgId: string
  receivedAt: Date
  protocol: Protocol
  type: EventType
  visitorId: string | null
  /** Null until the writer assigns it from the visitors table (or preset by a spool replay). */
  visitId: string | null
  /**
   * Set on an event acknowledged from the spool with a visit id made up there (no visit of its
   * visitor was known): the database may settle it on the visit another instance kept meanwhile.
   */
  visitProvisional?: boolean
  username?: string | null
  userDisplayName?: string | null
  anonymous?: boolean
  language?: string | null
  originLevel1?: string | null
  originLevel2?: string | null
  originLevel3?: string | null
  originContext?: string | null
  queryPipeline?: string | null
  searchQueryUid?: string | null
  lastSearchQueryUid?: string | null
  queryText?: string | null
  advancedQuery?: string | null
  actionCause?: string | null
  actionType?: string | null
  documentPosition?: number | null
  documentId?: string | null
  documentUrl?: string | null
  documentTitle?: string | null
  sourceName?: string | null
  numberOfResults?: number | null
  responseTimeMs?: number | null
  outcome?: number | null
  eventType?: string | null
  eventValue?: string | null
  feedbackScore?: number | null
  userAgent?: string | null
  browser?: string | null
  os?: string | null
  deviceCategory?: string | null
  isBot?: boolean
  clientIp?: string | null
  customData?: Record<string, unknown> | null
  /** Everything else the client sent, so nothing is lost. */
  extra?: Record<string, unknown> | null
  /** The page's label for its event stream (Coveo trackingId, Elastic collection). */
  trackingId?: string | null
  /** Commerce: a 3-letter currency code, the product's unit price, the change in quantity. */
  currency?: string | null
  price?: number | null
  quantity?: number | null
  /** Commerce: a purchase's total and its transaction id. */
  revenue?: number | null
  transactionId?: string | null
  /**
   * The client's idempotency key, scoped by the adapter (e.g. `workplace:<key>`): the writer
   * stores at most one event per (org, key), whichever instance receives the retries.
   */
  idempotencyKey?: string | null
}

/** The fields an adapter fills; identity and receipt time are assigned here. */
export type EventInput = Omit<TrackedEvent, 'eventId' | 'receivedAt' | 'visitId'> & {
  eventId?: string
  receivedAt?: Date
  visitId?: string | null
}

/** Clock used for receipt times; tests replace it to control visits without sleeping. */
export type Clock = () => Date
export const systemClock: Clock = () => new Date()

// UUID v7 orders by time, then by a sequence. Given an explicit time (the app's clock, which
// tests control) the uuid package draws a random sequence each call, so two events of the same
// millisecond would sort in random order; keep the sequence counting up within a millisecond.
// It starts at a random point in the lower half of its 31 bits so it cannot overflow in practice.
let lastMsecs = -1
let lastSeq = 0
function monotonicV7(msecs: number): string {
  if (msecs === lastMsecs) lastSeq++
  else {
    lastMsecs = msecs
    lastSeq = randomInt(0, 2 ** 30)
  }
  return uuidv7({ msecs, seq: lastSeq, random: randomBytes16() })
}

// The uuid package draws its 16 random bytes with crypto.getRandomValues on every call; on a
// 50-event request that was a tenth of the process's CPU. Drawing them from a pool refilled 4 KiB
// at a time costs the same entropy for a fraction of the calls.
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length
function randomBytes16(): Uint8Array {
  if (randomOffset === randomPool.length) {
    randomFillSync(randomPool)
    randomOffset = 0
  }
  randomOffset += 16
  return randomPool.subarray(randomOffset - 16, randomOffset)
}

/**
 * Stamp an event at receipt: a UUID v7 id (time-ordered, the idempotency key) and the time.
 *
 * Every field is written, in column order, by one object literal: all events then share one
 * hidden class, so the writer's per-column reads are monomorphic property loads. Spreading the
 * input (`{ ...input, eventId, … }`) gave V8 objects of many shapes, or dictionary-mode ones, and
 * building and reading them was the largest cost of a batch in Node after GC (BENCHMARKS.md).
 */
export function newEvent(input: EventInput, clock: Clock = systemClock): TrackedEvent {
  const receivedAt = input.receivedAt ?? clock()
  return {
    orgId: input.orgId,
    eventId: input.eventId ?? monotonicV7(receivedAt.getTime()),
    receivedAt,
    protocol: input.protocol,
    type: input.type,
    visitorId: input.visitorId,
    visitId: input.visitId ?? null,
    username: input.username ?? null,
    userDisplayName: input.userDisplayName ?? null,
    anonymous: input.anonymous ?? false,
    language: input.language ?? null,
    originLevel1: input.originLevel1 ?? null,
    originLevel2: input.originLevel2 ?? null,
    originLevel3: input.originLevel3 ?? null,
    originContext: input.originContext ?? null,
    queryPipeline: input.queryPipeline ?? null,
    searchQueryUid: input.searchQueryUid ?? null,
    lastSearchQueryUid: input.lastSearchQueryUid ?? null,
    queryText: input.queryText ?? null,
    advancedQuery: input.advancedQuery ?? null,
    actionCause: input.actionCause ?? null,
    actionType: input.actionType ?? null,
    documentPosition: input.documentPosition ?? null,
    documentId: input.documentId ?? null,
    documentUrl: input.documentUrl ?? null,
    documentTitle: input.documentTitle ?? null,
    sourceName: input.sourceName ?? null,
    numberOfResults: input.numberOfResults ?? null,
    responseTimeMs: input.responseTimeMs ?? null,
    outcome: input.outcome ?? null,
    eventType: input.eventType ?? null,
    eventValue: input.eventValue ?? null,
    feedbackScore: input.feedbackScore ?? null,
    userAgent: input.userAgent ?? null,
    browser: input.browser ?? null,
    os: input.os ?? null,
    deviceCategory: input.deviceCategory ?? null,
    isBot: input.isBot ?? false,
    clientIp: input.clientIp ?? null,
    customData: input.customData ?? null,
    extra: input.extra ?? null,
    trackingId: input.trackingId ?? null,
    currency: input.currency ?? null,
    price: input.price ?? null,
    quantity: input.quantity ?? null,
    revenue: input.revenue ?? null,
    transactionId: input.transactionId ?? null,
    idempotencyKey: input.idempotencyKey ?? null,
  }
}
