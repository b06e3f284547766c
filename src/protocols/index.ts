import type { FastifyInstance } from 'fastify'
import { coveoProtocol } from './coveo/index.js'
import { workplaceProtocol } from './workplace/index.js'
import { inbentaProtocol } from './inbenta/index.js'

/**
 * One encapsulated plugin per protocol: each owns its routes, body parsers and error handler, so
 * each renders errors in its own shape. A new protocol is one new folder and one line here.
 */
export async function registerProtocols(app: FastifyInstance): Promise<void> {
  await app.register(coveoProtocol)
  await app.register(workplaceProtocol)
  await app.register(inbentaProtocol)
}
