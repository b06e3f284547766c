import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** The dashboard's HTML page, or null when the dashboard was not built. */
    dashboardPage: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | null
  }
}

// The same from src/web/ (tests) and dist/web/ (the built service): both sit two levels below the root.
const BUILT = fileURLToPath(new URL('../../dist/web/', import.meta.url))

interface Asset {
  type: string
  identity: Buffer
  gzip?: Buffer
  br?: Buffer
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

function load(file: string): Asset {
  const read = (suffix: string) => {
    try {
      return readFileSync(file + suffix)
    } catch {
      return undefined
    }
  }
  return { type: TYPES[path.extname(file)] ?? 'application/octet-stream', identity: readFileSync(file), gzip: read('.gz'), br: read('.br') }
}

/** The encoding to send: brotli, then gzip, when the client accepts it (a q=0 refuses it) and the build stored it. */
function pickEncoding(request: FastifyRequest, asset: Asset): 'br' | 'gzip' | null {
  const header = String(request.headers['accept-encoding'] ?? '').toLowerCase()
  const accepts = (name: string) => header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';')
    return coding?.trim() === name && !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))
  })
  if (asset.br && accepts('br')) return 'br'
  if (asset.gzip && accepts('gzip')) return 'gzip'
  return null
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset, cache: string): FastifyReply {
  const encoding = pickEncoding(request, asset)
  reply.header('content-type', asset.type).header('cache-control', cache).header('vary', 'accept-encoding')
  reply.header('x-content-type-options', 'nosniff')
  if (encoding) reply.header('content-encoding', encoding)
  return reply.send(encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.identity)
}

/**
 * The dashboard, built by scripts/build.mjs into dist/web/: one HTML page for `/dashboard` and
 * every path under it (the page routes on the client), and its content-hashed assets under
 * `/assets/`. Files are read once at start; a rebuild takes a restart, as for the service's code.
 */
export const webPlugin = fp(
  async (app: FastifyInstance) => {
    const assets = new Map<string, Asset>()
    let page: Asset | null = null
    try {
      page = load(path.join(BUILT, 'index.html'))
      for (const name of readdirSync(path.join(BUILT, 'assets'))) {
        if (name.endsWith('.gz') || name.endsWith('.br')) continue
        assets.set(name, load(path.join(BUILT, 'assets', name)))
      }
    } catch {
      app.log.warn('the dashboard is not built (dist/web/ is missing): run `node scripts/build.mjs`')
    }
    // The page names the current assets, so it is revalidated each time; the assets never change.
    const html = (request: FastifyRequest, reply: FastifyReply) => {
      if (!page) return null
      reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
      reply.header('referrer-policy', 'no-referrer')
      return send(request, reply, page, 'no-cache')
    }
    app.decorate('dashboardPage', html)

    const notBuilt = (reply: FastifyReply) =>
      reply.code(404).send({ message: 'The dashboard is not built: run `node scripts/build.mjs`', type: 'NotFound' })
    app.get('/dashboard', (request, reply) => html(request, reply) ?? notBuilt(reply))
    app.get('/dashboard/*', (request, reply) => html(request, reply) ?? notBuilt(reply))
    app.get<{ Params: { file: string } }>('/assets/:file', (request, reply) => {
      const asset = assets.get(request.params.file)
      if (!asset) return reply.code(404).send({ message: `No asset ${request.params.file}`, type: 'NotFound' })
      return send(request, reply, asset, 'public, max-age=31536000, immutable')
    })
  },
  { name: 'searchtrack-web' },
)
