import type { EventType } from '../../events/event.js'

/**
 * The predefined actions of an Inbenta instance (docs/protocols/inbenta.md): each has a log type (atomic log), a
 * data key (session log) or both. An action with both is one event carrying both, so it counts in
 * either log.
 */
export interface ActionDefinition {
  logType: string | null
  dataKey: string | null
}

/**
 * Default priority of each predefined data key: 1 is the most important, 0 means "no priority"
 * (never the result of a session). The seed fixes CONTACT_TICKET 1, SEARCH 9, START 11 and
 * USER_INFO 0; the rest are ordered by how far the visitor got: a ticket or contact attempt means
 * deflection failed, a click or rating on content means it probably worked, a search alone means
 * the visitor looked and left.
 */
export const DEFAULT_PRIORITIES: Readonly<Record<string, number>> = {
  CONTACT_TICKET: 1,
  CONTACT_SUBMIT: 2,
  CONTACT_START: 3,
  CONTACT_CLICK: 4,
  CLICK_MATCH: 5,
  INSTANT_CLICK: 5,
  CLICK_AUTOCOMPLETER: 5,
  CLICK_KNOWLEDGE_BASE: 5,
  USER_QUESTION_CLICK: 5,
  RATE_CONTENT: 6,
  RATE_SEARCH: 7,
  CONTACT_SEARCH: 8,
  SEARCH: 9,
  INSTANT_SEARCH: 10,
  KNOWLEDGE_BASE: 10,
  START: 11,
  USER_BROWSER: 0,
  USER_INFO: 0,
}

/** Data keys are upper-case identifiers, as in Inbenta's dashboard (e.g. MY_CUSTOM_KEY). */
export const DATA_KEY_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/

/**
 * The lower-case event types of `/tracking/events` that echo a clickCode: the type says which
 * kind of click it was (Inbenta's own widgets send `click` and `instant_click`).
 */
export const CLICK_TYPES: Readonly<Record<string, ActionDefinition>> = {
  click: { logType: 'MATCH', dataKey: 'CLICK_MATCH' },
  instant_click: { logType: 'INSTANT_MATCH', dataKey: 'INSTANT_CLICK' },
  contact_click: { logType: 'CONTACT_MATCH', dataKey: 'CONTACT_CLICK' },
  autocompleter_click: { logType: 'AUTOCOMPLETER', dataKey: 'CLICK_AUTOCOMPLETER' },
  knowledge_base_click: { logType: 'KNOWLEDGE_BASE_MATCH', dataKey: 'CLICK_KNOWLEDGE_BASE' },
}

export const RATE_TYPES: Readonly<Record<string, ActionDefinition>> = {
  rate: { logType: 'RATING', dataKey: 'RATE_CONTENT' },
  search_rate: { logType: 'SEARCH_RATE', dataKey: 'RATE_SEARCH' },
}

export const SEARCH_ACTION: ActionDefinition = { logType: 'SEARCH', dataKey: 'SEARCH' }

/** The canonical event type of an action, so reports across protocols see clicks as clicks. */
export function canonicalType(action: ActionDefinition): EventType {
  switch (action.logType) {
    case 'SEARCH':
    case 'INSTANT_SEARCH':
    case 'CONTACT_SEARCH':
      return 'search'
    case 'MATCH':
    case 'INSTANT_MATCH':
    case 'CONTACT_MATCH':
    case 'AUTOCOMPLETER':
    case 'KNOWLEDGE_BASE_MATCH':
      return 'click'
    case 'RATING':
    case 'SEARCH_RATE':
      return 'feedback'
    default:
      return 'session'
  }
}
