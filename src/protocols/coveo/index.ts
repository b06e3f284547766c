import type { FastifyPluginAsync } from 'fastify'

/** The coveo protocol adapter: its routes, schemas and error shape (see ../shared/spec). */
export const coveoProtocol: FastifyPluginAsync = async () => {}
