import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import { KeyStore } from './keys.js'
import { Authenticator } from './principal.js'

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeyStore
    auth: Authenticator
  }
}

/** The key store and the authenticator built on it; needs the store plugin's pool. */
export const authPlugin = fp(
  async (app) => {
    // Every verification and signature names its key explicitly (the org's secret or public key),
    // so this process-wide secret is never used to accept a token; @fastify/jwt requires one.
    await app.register(fastifyJwt, { secret: randomBytes(32) })
    const keys = new KeyStore(app.db, 5000, () => app.clock().getTime())
    app.decorate('keys', keys)
    app.decorate('auth', new Authenticator(keys, app.jwt))
  },
  { name: 'auth', dependencies: ['store'] },
)
