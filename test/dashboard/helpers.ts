import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { Test } from 'tap'
import { listen } from '../helpers/app.js'
import { launchChromium } from '../helpers/browser.js'
import { CoveoSender, reportsApp, sendHandMadeSet, settle, type ReportsApp } from '../reports/helpers.js'

const require = createRequire(import.meta.url)
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

export interface Dashboard {
  r: ReportsApp
  origin: string
  browser: Browser
}

/** The service on a real port with the hand-made data set of the reports tests, settled, and Chromium. */
export async function dashboardApp(t: Test, seed: (r: ReportsApp, base: number) => Promise<void> = sendHandMadeSet): Promise<Dashboard> {
  const r = await reportsApp(t)
  const base = r.clock().getTime()
  await seed(r, base)
  // Three hours later the data's hours are over (tiles built) and still "today" in UTC.
  const last = r.clock().getTime()
  r.clock.set(new Date(Math.max(last, base) + 3 * 3600_000))
  await settle(r.app)
  const origin = await listen(r.app)
  const browser = await launchChromium(t)
  return { r, origin, browser }
}

export interface OpenedPage {
  page: Page
  context: BrowserContext
  /** Console errors and uncaught exceptions, except the admin probe's expected refusal. */
  errors: string[]
}

export async function openDashboard(d: Dashboard, path = '/', options: { width?: number; height?: number } = {}): Promise<OpenedPage> {
  const context = await d.browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 }, acceptDownloads: true })
  // Injected through the DevTools protocol before the page's scripts, so the page's
  // Content-Security-Policy (no inline script) stays on and does not block it.
  await context.addInitScript({ content: AXE })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    // The page asks an admin route whether the key is an admin: a 403 (or 404 where the admin
    // API is absent) is the answer "no", which Chromium logs as a failed resource load.
    if (/\/api\/v1\/admin\/orgs$/.test(message.location().url) && /status of 40[34]/.test(message.text())) return
    errors.push(`${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (err) => errors.push(String(err)))
  await page.goto(d.origin + path)
  return { page, context, errors }
}

export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<string[]> {
  const result = (await page.evaluate(`window.axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }>
  }
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)
}

/** A text that settles: waits until `locator` shows something that is not a loading message. */
export async function textOf(page: Page, selector: string): Promise<string> {
  const locator = page.locator(selector).first()
  await locator.waitFor()
  return (await locator.innerText()).trim()
}

/** A made-up month of searches for screenshots and the benchmark, from a seeded generator. */
export async function sendDemoSet(r: ReportsApp, base: number, days = 14): Promise<void> {
  let seed = 42
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!
  const queries = ['reset password', 'vpn', 'invoice', 'printer driver', 'expense report', 'holiday policy', 'wifi', 'remote access',
    'laptop refresh', 'payslip', 'parental leave', 'teams meeting', 'outlook calendar', 'mfa setup', 'badge access']
  const gaps = new Set(['vpn', 'badge access', 'payslip'])
  const start = base - days * 86_400_000
  const s = new CoveoSender(r, start)
  let uid = 0
  for (let day = 0; day < days; day++) {
    const visits = 6 + Math.floor(random() * 6) + day
    for (let v = 0; v < visits; v++) {
      const visitor = `v${day}-${v}`
      let at = day * 86_400_000 + 8 * 3_600_000 + v * 1_500_000
      const searches = 1 + Math.floor(random() * 3)
      for (let n = 0; n < searches; n++) {
        const q = pick(queries)
        const id = `d${uid++}`
        const none = gaps.has(q) && random() < 0.7
        await s.search({ at, visitor, q, uid: id, nr: none ? 0 : 5 + Math.floor(random() * 40), rt: 40 + Math.floor(random() * 200), hub: random() < 0.7 ? 'Support' : 'Intranet' })
        at += 4_000
        if (!none && random() < 0.6) {
          const position = 1 + Math.floor(random() * random() * 8)
          await s.click({ at, visitor, uid: id, position, doc: `kb-${q.replace(/\s+/g, '-')}-${position}` })
          at += 30_000
        } else at += 15_000
      }
    }
  }
  // What real clients get wrong, for the data-quality page: a crawler, a click naming no search.
  const last = (days - 1) * 86_400_000 + 20 * 3_600_000
  await s.search({ at: last, visitor: 'crawler', q: 'sitemap', uid: `d${uid++}`, nr: 3, bot: true })
  await s.click({ at: last + 1_000, visitor: 'v-lost', uid: 'never-logged', position: 1, doc: 'kb-wifi-1' })
}
