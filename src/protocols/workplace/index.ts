import type { FastifyPluginAsync } from 'fastify'

/** The workplace protocol adapter: its routes, schemas and error shape (see ../shared/spec). */
export const workplaceProtocol: FastifyPluginAsync = async () => {}
