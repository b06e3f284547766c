import type { FastifyPluginAsync } from 'fastify'

/** The inbenta protocol adapter: its routes, schemas and error shape (see ../shared/spec). */
export const inbentaProtocol: FastifyPluginAsync = async () => {}
