import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import Fastify, { type FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Bundle a browser entry (TypeScript or JavaScript source) with the npm packages it imports, as a
 * site's own build would: nothing is loaded from outside this machine.
 */
export async function bundle(source: string): Promise<string> {
  const result = await build({
    stdin: { contents: source, resolveDir: ROOT, loader: 'ts', sourcefile: 'page-entry.ts' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  })
  return result.outputFiles[0]!.text
}

/**
 * A page server on its own loopback port, hence another origin than searchtrack's: serves `/`
 * (the HTML), `/page.js` (the bundle) and whatever `routes` adds (a stand-in search backend).
 */
export async function pageServer(t: Test, html: string, script: string, routes?: (server: FastifyInstance) => void): Promise<string> {
  const server = Fastify()
  server.get('/favicon.ico', (_request, reply) => reply.code(204).send())
  server.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(html))
  server.get('/page.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(script))
  routes?.(server)
  await server.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => server.close())
  const address = server.server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
}

/** Debian's Chromium, headless, with the flags the project's browser tests use. */
export async function launchChromium(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  t.teardown(() => browser.close())
  return browser
}

/** A new tab whose console errors and uncaught errors are collected. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (err) => errors.push(String(err)))
  await page.goto(url)
  return { page, errors }
}

/** With SCREENSHOT_DIR set, a PNG of the page as a person would see it (to look at, not to assert on). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.SCREENSHOT_DIR
  if (dir) await page.screenshot({ path: `${dir}/${name}.png` })
}

/** Resolves when `predicate` holds for a request searchtrack answered (an onResponse hook feeds it). */
export class RequestLog {
  readonly seen: Array<{ method: string; url: string; status: number; headers: Record<string, unknown> }> = []
  private waiters: Array<{ predicate: (r: RequestLog['seen'][number]) => boolean; resolve: () => void }> = []

  hook = (server: FastifyInstance) =>
    server.addHook('onResponse', async (request, reply) => {
      const entry = { method: request.method, url: request.url, status: reply.statusCode, headers: { ...request.headers } }
      this.seen.push(entry)
      this.waiters = this.waiters.filter((w) => {
        if (!w.predicate(entry)) return true
        w.resolve()
        return false
      })
    })

  waitFor(predicate: (r: RequestLog['seen'][number]) => boolean): Promise<void> {
    if (this.seen.some(predicate)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }))
  }
}
