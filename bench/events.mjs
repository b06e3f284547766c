// The search event both storage benchmarks write: realistic column widths, visitors cycling over
// `visitors` ids so the visit upsert updates rows as real traffic does.
import { randomUUID } from 'node:crypto'
import { newEvent } from '../dist/events/event.js'

export function searchEvents(orgId, visitors) {
  let sequence = 0
  return () => {
    const n = sequence++
    return newEvent({
      orgId, protocol: 'coveo', type: 'search', visitorId: `visitor-${n % visitors}`,
      language: 'en', queryText: `query ${n % 300}`, actionCause: 'searchboxSubmit', responseTimeMs: 42,
      searchQueryUid: randomUUID(), numberOfResults: 120, originLevel1: 'default',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
      browser: 'Chrome 126', os: 'Linux', deviceCategory: 'desktop', isBot: false,
      customData: { context_role: 'engineer' },
    })
  }
}
