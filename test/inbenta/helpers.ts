import type { FastifyInstance } from 'fastify'
import type { CreatedKey } from '../../src/auth/keys.js'

export interface Reply {
  status: number
  body: Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The two halves an Inbenta-style client holds: the public key (x-inbenta-key) and the secret. */
export function halves(key: CreatedKey): { keyId: string; secret: string } {
  const match = /^st_([0-9a-f]{16})_(.{43})$/.exec(key.key)
  if (!match) throw new Error(`not an API key: ${key.key}`)
  return { keyId: match[1]!, secret: match[2]! }
}

/** A client speaking to a listening server over real HTTP (fetch), as a help site's widget does. */
export class HttpClient {
  accessToken?: string
  session?: string
  constructor(
    readonly base: string,
    readonly keyId: string,
  ) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-inbenta-key': this.keyId,
        ...(this.accessToken ? { authorization: `Bearer ${this.accessToken}` } : {}),
        ...(this.session ? { 'x-inbenta-session': this.session } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Reply['body'] }
  }

  async auth(secret: string): Promise<Reply> {
    const reply = await this.request('POST', '/v1/auth', { secret })
    this.accessToken = reply.body.accessToken
    return reply
  }

  async openSession(): Promise<Reply> {
    this.session = undefined
    const reply = await this.request('POST', '/v1/tracking/session')
    this.session = reply.body.sessionToken
    return reply
  }

  track(type: string, data: Record<string, unknown>): Promise<Reply> {
    return this.request('POST', '/v1/tracking/events', { type, data })
  }
}

/** Same calls through app.inject, for the many small refusal cases. */
export async function inject(
  app: FastifyInstance,
  method: 'GET' | 'POST',
  url: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const res = await app.inject({
    method,
    url,
    headers: options.body === undefined ? options.headers : { 'content-type': 'application/json', ...options.headers },
    payload: options.body === undefined ? undefined : JSON.stringify(options.body),
  })
  return { status: res.statusCode, body: res.json() }
}
