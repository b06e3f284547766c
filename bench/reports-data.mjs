// Events of a realistic shape for the reports benchmark, from a seeded PRNG (the same seed gives
// the same events): 60 days with daily and weekly cycles, 3 hubs (60/30/10 %), 2 languages
// (70/30 %), 50,000 Zipf-distributed queries, about 30 % of searches clicked with positions
// decaying from 1, about 8 % without results, refinements, paging, as-you-type chains, visits of
// 1 to 15 events, Workplace clicks, Inbenta sessions with tickets, about 1 % bots.

/** mulberry32: small, fast, good enough for synthetic data. */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const QUERIES = 50_000
const SYLLABLES = ['ka', 'lo', 'mi', 'net', 'ser', 'vo', 'pri', 'con', 'da', 'reg', 'tem', 'ux', 'bal', 'fi', 'gor', 'hen', 'ist', 'jun', 'kel', 'mor']
const WORDS = ['password', 'reset', 'vpn', 'printer', 'access', 'account', 'install', 'error', 'login', 'email', 'update', 'network', 'license', 'driver', 'remote']

function word(n) {
  let w = ''
  do {
    w += SYLLABLES[n % SYLLABLES.length]
    n = Math.floor(n / SYLLABLES.length)
  } while (n > 0)
  return w
}

/** Query i (1 = most popular): a known word and a made-up one, so gap keys stem real text too. */
export function queryText(i) {
  return `${WORDS[i % WORDS.length]} ${word(i)}`
}

/** A Zipf sampler (s = 1) over 1..n by inverse CDF on precomputed harmonic sums. */
function zipf(n, random) {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1)
  return () => {
    const x = random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < x) lo = mid + 1
      else hi = mid
    }
    return lo + 1
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A UUID v7 for a time, random otherwise. */
function uuid7(ms, random) {
  const t = ms.toString(16).padStart(12, '0')
  const r = () => HEX[(random() * 256) | 0]
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${HEX[(random() * 256) | 0].slice(1)}${r()}-${HEX[0x80 | ((random() * 64) | 0)]}${r()}-${r()}${r()}${r()}${r()}${r()}${r()}`
}

function pick(random, weighted) {
  let x = random()
  for (const [value, weight] of weighted) {
    if ((x -= weight) < 0) return value
  }
  return weighted[weighted.length - 1][0]
}

const HUBS = [['Support', 0.6], ['Community', 0.3], ['Sales', 0.1]]
const LANGUAGES = [['en', 0.7], ['fr', 0.3]]
const DEVICES = [['desktop', 0.65], ['mobile', 0.3], ['tablet', 0.05]]
const DAY = 86_400_000

/**
 * Generate `total` events for `org` over the 60 days before `end`, calling `emit(row)` for each
 * (rows are arrays in EXPORT_COLUMNS order). Visits are spread over `parts` shards; only those of
 * `part` are emitted, so parts 0…k of a 10-part run make a smaller data set of the same shape.
 */
export function generate({ org, total, end, seed, parts = 1, part = 0, emit }) {
  const random = prng(seed)
  const query = zipf(QUERIES, random)
  const visitorCount = Math.max(1000, Math.round(total / 30))
  let emitted = 0
  let generated = 0
  let visitIndex = 0
  const start = end - 60 * DAY
  while (generated < total) {
    const mine = visitIndex++ % parts === part
    // Time: a day (fewer on weekends), an hour following the working day.
    let day
    do day = Math.floor(random() * 60)
    while ([0, 6].includes(new Date(start + day * DAY).getUTCDay()) && random() < 0.4)
    const hour = Math.min(23, Math.max(0, Math.round(13 + 4.5 * (random() + random() + random() - 1.5) * 1.4)))
    let at = start + day * DAY + hour * 3_600_000 + Math.floor(random() * 3_600_000)
    if (at >= end) at = end - Math.floor(random() * 3_600_000)
    const hub = pick(random, HUBS)
    const language = pick(random, LANGUAGES)
    const device = pick(random, DEVICES)
    const bot = random() < 0.01
    const visitor = `v${Math.floor(random() ** 1.5 * visitorCount)}`
    const visitId = uuid7(at, random)
    const kind = random()
    const events = []
    const push = (fields) => {
      events.push({ at, hub, language, device, bot, visitor, visitId, ...fields })
      at += 2_000 + Math.floor(random() * 40_000)
    }
    if (kind < 0.06) {
      // Workplace: clicks and ratings without a search or a visitor.
      const n = 1 + Math.floor(random() * 2)
      for (let i = 0; i < n; i++) {
        push({ protocol: 'workplace', type: random() < 0.85 ? 'click' : 'feedback', uid: `ws-${Math.floor(random() * 1e9)}`, position: 1 + Math.floor(-Math.log(random()) * 2), doc: `ws-${Math.floor(random() * 5000)}`, noVisit: true })
      }
    } else if (kind < 0.16) {
      // An Inbenta session: start, searches, clicks, sometimes contact and a ticket.
      push({ protocol: 'inbenta', type: 'session', dataKey: 'START' })
      const searches = 1 + Math.floor(random() * 2)
      for (let i = 0; i < searches; i++) {
        const q = query()
        const id = uuid7(at, random)
        const nr = random() < 0.08 ? 0 : 1 + Math.floor(random() * 40)
        push({ protocol: 'inbenta', type: 'search', id, uid: id, q: queryText(q), nr, dataKey: 'SEARCH', logType: 'SEARCH' })
        if (nr > 0 && random() < 0.35) push({ protocol: 'inbenta', type: 'click', uid: id, position: 1 + Math.floor(-Math.log(random()) * 1.5), doc: `kb-${(q * 7) % 20000}`, dataKey: 'CLICK_MATCH', logType: 'MATCH', cause: 'click' })
      }
      if (random() < 0.15) {
        push({ protocol: 'inbenta', type: 'session', dataKey: 'CONTACT_START' })
        if (random() < 0.4) push({ protocol: 'inbenta', type: 'session', dataKey: 'CONTACT_TICKET' })
      }
    } else {
      // A Coveo visit: an interface load, user searches (some typed as you type), refinements, paging, clicks.
      if (random() < 0.3) push({ protocol: 'coveo', type: 'search', uid: uuid7(at, random), q: '', nr: 500, cause: 'interfaceLoad' })
      const users = 1 + Math.floor(random() ** 2 * 3)
      for (let u = 0; u < users && events.length < 14; u++) {
        const q = query()
        const text = queryText(q)
        if (random() < 0.2) {
          for (const len of [2, 4]) {
            if (len < text.length) {
              events.push({ at, hub, language, device, bot, visitor, visitId, protocol: 'coveo', type: 'search', uid: uuid7(at, random), q: text.slice(0, len), nr: 50, cause: 'searchboxAsYouType' })
              at += 300 + Math.floor(random() * 600)
            }
          }
        }
        const chain = [{ cause: random() < 0.2 ? 'searchboxAsYouType' : 'searchboxSubmit' }]
        if (random() < 0.15) chain.push({ cause: 'facetSelect' })
        if (random() < 0.05) chain.push({ cause: 'pagerNext' })
        const nr = random() < 0.08 ? 0 : 1 + Math.floor(random() * 300)
        for (const step of chain) {
          const uid = uuid7(at, random)
          push({ protocol: 'coveo', type: 'search', uid, q: text, nr, cause: step.cause })
          if (nr > 0 && random() < 0.3) push({ protocol: 'coveo', type: 'click', uid, position: 1 + Math.floor(-Math.log(random()) * 1.6), doc: `kb-${(q * 7 + (random() < 0.2 ? 1 : 0)) % 20000}` })
        }
      }
      if (random() < 0.05) push({ protocol: 'coveo', type: 'custom', eventType: 'feedback', eventValue: 'rate', outcome: random() < 0.7 ? 1 : -1 })
    }
    for (const e of events) {
      if (generated >= total) break
      generated++
      // Made for every part: each row draws from the PRNG, so the parts draw one sequence and
      // together make the one-part data set, with no visit generated twice.
      const made = row(org, e, random)
      if (!mine) continue
      emitted++
      emit(made)
    }
  }
  return emitted
}

export const EXPORT_COLUMNS = [
  'org_id', 'event_id', 'received_at', 'protocol', 'type', 'visitor_id', 'visit_id', 'language', 'origin_level1', 'search_query_uid',
  'query_text', 'action_cause', 'document_position', 'document_id', 'document_url', 'number_of_results', 'response_time_ms', 'outcome',
  'event_type', 'event_value', 'device_category', 'is_bot', 'extra', 'custom_data',
]

function row(org, e, random) {
  const isSearch = e.type === 'search'
  const isClick = e.type === 'click'
  const extra = e.dataKey ? JSON.stringify({ dataKey: e.dataKey, ...(e.logType ? { logType: e.logType } : {}) }) : isClick && e.protocol === 'coveo' ? '{"contentIdKey":"permanentid"}' : null
  return [
    org,
    e.id ?? uuid7(e.at, random),
    new Date(e.at).toISOString(),
    e.protocol,
    e.type,
    e.noVisit ? null : e.protocol === 'inbenta' ? `inbenta:${e.visitId}` : e.visitor,
    e.noVisit ? null : e.visitId,
    e.language,
    e.hub,
    e.uid ?? null,
    isSearch ? e.q : null,
    isSearch ? (e.protocol === 'coveo' ? e.cause : null) : isClick ? (e.cause ?? 'documentOpen') : null,
    isClick ? e.position : null,
    isClick ? e.doc : null,
    isClick ? `https://kb.example.com/${e.doc}` : null,
    isSearch ? e.nr : null,
    isSearch ? 30 + Math.floor(random() * 400) : null,
    e.outcome ?? null,
    e.eventType ?? e.dataKey ?? null,
    e.eventValue ?? null,
    e.bot ? 'bot' : e.device,
    e.bot,
    extra,
    null,
  ]
}

/** One COPY text-format line (tab-separated, \N for null, backslash escapes). */
export function copyLine(values) {
  return values.map((v) => (v === null || v === undefined ? '\\N' : typeof v === 'boolean' ? (v ? 't' : 'f') : String(v).replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')))).join('\t') + '\n'
}
