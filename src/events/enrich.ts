import { isIP } from 'node:net'
import { UAParser } from 'ua-parser-js'
import { isbot } from 'isbot'

export interface UserAgentInfo {
  browser: string | null
  os: string | null
  deviceCategory: 'desktop' | 'mobile' | 'tablet' | 'bot' | 'other'
  isBot: boolean
}

const cache = new Map<string, UserAgentInfo>()
const CACHE_MAX = 2000

/**
 * Browser, OS, device category and bot flag of a user agent string (ua-parser-js 1.x, MIT; isbot).
 * Bot events are stored and flagged, never dropped. Parsing costs tens of microseconds and real
 * traffic repeats a few agents, so results are memoized in a small bounded map.
 */
export function classifyUserAgent(userAgent: string | null | undefined): UserAgentInfo {
  if (!userAgent) return { browser: null, os: null, deviceCategory: 'other', isBot: false }
  const hit = cache.get(userAgent)
  if (hit) return hit
  const parsed = new UAParser(userAgent).getResult()
  const bot = isbot(userAgent)
  const browser = parsed.browser.name ? `${parsed.browser.name}${parsed.browser.major ? ` ${parsed.browser.major}` : ''}` : null
  const os = parsed.os.name ? `${parsed.os.name}${parsed.os.version ? ` ${parsed.os.version}` : ''}` : null
  const type = parsed.device.type
  const deviceCategory = bot
    ? 'bot'
    : type === 'mobile' || type === 'wearable'
      ? 'mobile'
      : type === 'tablet'
        ? 'tablet'
        : type === undefined && os !== null
          ? 'desktop'
          : 'other'
  const info: UserAgentInfo = { browser, os, deviceCategory, isBot: bot }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!)
  cache.set(userAgent, info)
  return info
}

/**
 * The client's address with its host part dropped (IPv4 /24, IPv6 /48), as analytics needs the
 * network, not the person.
 */
export function maskIp(ip: string | null | undefined): string | null {
  if (!ip) return null
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  if (isIP(v4) === 4) return v4.replace(/\.\d+$/, '.0')
  if (isIP(ip) === 6) {
    const groups = expandIpv6(ip)
    return `${groups.slice(0, 3).join(':')}::`
  }
  return null
}

function expandIpv6(ip: string): string[] {
  const [head, tail = ''] = ip.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const zeros = Array(Math.max(0, 8 - h.length - t.length)).fill('0')
  return (ip.includes('::') ? [...h, ...zeros, ...t] : h).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase())
}

/**
 * The client-side fields every event carries: its user agent, classified, and its address — in
 * full here: the writer applies the org's IP policy (masked by default, none, or a keyed digest)
 * before the event is queued, stored or spooled (src/privacy/identity.ts).
 */
export function clientFields(userAgent: string | null | undefined, ip: string | undefined) {
  const agent = classifyUserAgent(userAgent)
  return {
    userAgent: userAgent ?? null,
    browser: agent.browser,
    os: agent.os,
    deviceCategory: agent.deviceCategory,
    isBot: agent.isBot,
    clientIp: ip ?? null,
  }
}
