import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { AuthError } from '../auth/errors.js'
import { InvalidValueError, NotFoundError, ORG_ID_PATTERN, type ApiKeyRecord, type Organization } from '../auth/keys.js'
import { classifyError } from '../errors.js'
import { requestedFormat, streamRows } from '../reports/http/output.js'
import { listAudit, type AuditRecord } from './audit.js'
import { adminOf, manages, requireAdmin } from './auth.js'
import { AdminOperations, AlreadyExistsError } from './operations.js'

const OrgId = Type.String({ pattern: ORG_ID_PATTERN.source })
const Origins = Type.Union([Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 100 }), Type.Null()])
const OrgParams = Type.Object({ org: OrgId })

/** An organization as admins see it: never its token-signing secret. */
function orgView(org: Organization) {
  return { id: org.orgId, name: org.name, allowedOrigins: org.allowedOrigins, createdAt: org.createdAt.toISOString() }
}

function keyView(key: ApiKeyRecord) {
  return {
    id: key.keyId,
    name: key.name,
    privileges: key.privileges,
    platformOrgs: key.platformOrgs,
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
  }
}

function auditView(row: AuditRecord) {
  return { id: row.id, at: row.at.toISOString(), actor: row.actor, orgId: row.orgId, action: row.action, target: row.target, details: row.details }
}

/**
 * The admin routes, under /api/v1/admin: organizations, API keys, Inbenta data-key priorities and
 * the audit log, for an API key with the `admin` privilege. The same operations as the admin
 * commands (AdminOperations), so both check alike and both leave an audit entry. Errors read
 * `{message, type}`, as in the reports API. No CORS: these routes are for the dashboard this
 * service serves itself, and for scripts.
 */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const operations = new AdminOperations(app.db, app.keys)

  app.setErrorHandler((err, request, reply) => {
    const e =
      err instanceof InvalidValueError ? { statusCode: 400, code: 'InvalidValue', message: err.message, headers: {}, internal: false }
      : err instanceof NotFoundError ? { statusCode: 404, code: 'NotFound', message: err.message, headers: {}, internal: false }
      : err instanceof AlreadyExistsError ? { statusCode: 409, code: 'AlreadyExists', message: err.message, headers: {}, internal: false }
      : classifyError(err)
    if (e.internal) request.log.error({ err }, 'admin request failed')
    return reply.code(e.statusCode).headers(e.headers).send({ message: e.message, type: e.code })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ message: `No route for ${request.method} ${request.url.split('?')[0]}`, type: 'NotFound' }),
  )

  async function orgOr404(orgId: string): Promise<Organization> {
    const org = await app.keys.getOrg(orgId)
    if (!org) throw new NotFoundError(`no organization ${orgId}`)
    return org
  }

  app.get('/orgs', async (request) => {
    const admin = await adminOf(request)
    const orgs = await app.keys.listOrgs()
    return { data: orgs.filter((o) => manages(admin, o.orgId)).map(orgView) }
  })

  app.post(
    '/orgs',
    { schema: { body: Type.Object({ id: OrgId, name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), allowedOrigins: Type.Optional(Origins) }, { additionalProperties: false }) } },
    async (request, reply) => {
      const admin = await adminOf(request)
      if (admin.orgs !== '*') throw new AuthError('Forbidden', 'Creating an organization takes an admin key of every organization (a platform key for *)')
      const org = await operations.createOrg(admin.actor, request.body)
      return reply.code(201).send({ data: orgView(org) })
    },
  )

  app.get('/orgs/:org', { schema: { params: OrgParams } }, async (request) => {
    await requireAdmin(request, request.params.org)
    return { data: orgView(await orgOr404(request.params.org)) }
  })

  app.patch(
    '/orgs/:org',
    {
      schema: {
        params: OrgParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), allowedOrigins: Type.Optional(Origins) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const admin = await requireAdmin(request, request.params.org)
      return { data: orgView(await operations.updateOrg(admin.actor, request.params.org, request.body)) }
    },
  )

  app.get('/orgs/:org/keys', { schema: { params: OrgParams } }, async (request) => {
    await requireAdmin(request, request.params.org)
    await orgOr404(request.params.org)
    return { data: (await app.keys.listKeys(request.params.org)).map(keyView) }
  })

  app.post(
    '/orgs/:org/keys',
    {
      schema: {
        params: OrgParams,
        body: Type.Object(
          {
            privileges: Type.Array(Type.String({ maxLength: 32 }), { minItems: 1, maxItems: 8 }),
            name: Type.Optional(Type.String({ maxLength: 128 })),
            platformOrgs: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 63 }), { minItems: 1, maxItems: 1000 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const admin = await requireAdmin(request, request.params.org)
      const { platformOrgs } = request.body
      // A key can be given no more reach than the key creating it has.
      if (platformOrgs && admin.orgs !== '*' && !platformOrgs.every((o) => o !== '*' && manages(admin, o))) {
        throw new AuthError('Forbidden', 'A platform key may only name organizations this key administers')
      }
      const created = await operations.createKey(admin.actor, { orgId: request.params.org, ...request.body })
      return reply.code(201).send({ data: { ...keyView(created.record), key: created.key } })
    },
  )

  app.delete('/orgs/:org/keys/:keyId', { schema: { params: Type.Object({ org: OrgId, keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }) }) } }, async (request) => {
    const admin = await requireAdmin(request, request.params.org)
    return { data: keyView(await operations.revokeKey(admin.actor, request.params.keyId, request.params.org)) }
  })

  app.get('/orgs/:org/inbenta/priorities', { schema: { params: OrgParams } }, async (request) => {
    await requireAdmin(request, request.params.org)
    await orgOr404(request.params.org)
    const priorities = await operations.listPriorities(request.params.org)
    return { data: priorities.map((p) => ({ key: p.dataKey, priority: p.priority, source: p.source })) }
  })

  const PriorityParams = Type.Object({ org: OrgId, key: Type.String({ maxLength: 64 }) })
  app.put(
    '/orgs/:org/inbenta/priorities/:key',
    { schema: { params: PriorityParams, body: Type.Object({ priority: Type.Integer() }, { additionalProperties: false }) } },
    async (request) => {
      const admin = await requireAdmin(request, request.params.org)
      await operations.setPriority(admin.actor, request.params.org, request.params.key, request.body.priority)
      return { data: { key: request.params.key, priority: request.body.priority } }
    },
  )

  app.delete('/orgs/:org/inbenta/priorities/:key', { schema: { params: PriorityParams } }, async (request) => {
    const admin = await requireAdmin(request, request.params.org)
    await orgOr404(request.params.org)
    if (!(await operations.resetPriority(admin.actor, request.params.org, request.params.key))) {
      throw new NotFoundError(`organization ${request.params.org} has no priority of its own for ${request.params.key}`)
    }
    return { data: { key: request.params.key, deleted: true } }
  })

  app.get(
    '/audit',
    {
      schema: {
        querystring: Type.Object({
          org: Type.Optional(OrgId),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
          format: Type.Optional(Type.String()),
        }),
      },
    },
    async (request, reply) => {
      const admin = request.query.org ? await requireAdmin(request, request.query.org) : await adminOf(request)
      const orgs = request.query.org ? [request.query.org] : admin.orgs === '*' ? null : [...admin.orgs]
      const format = requestedFormat(request)
      if (format !== 'json') return streamAudit(request, reply, format, orgs)
      const limit = request.query.limit ?? 100
      const rows = await listAudit(app.db, { orgs, limit: limit + 1, before: request.query.cursor })
      const page = rows.slice(0, limit)
      return { data: { rows: page.map(auditView) }, meta: { nextCursor: rows.length > limit ? page.at(-1)!.id : null } }
    },
  )

  /** The whole log (of the orgs in reach) as a download, read in pages as the client takes it. */
  function streamAudit(request: FastifyRequest, reply: FastifyReply, format: 'csv' | 'ndjson', orgs: string[] | null) {
    async function* pages() {
      for (let before: string | null = null; ; ) {
        const rows = await listAudit(app.db, { orgs, limit: 1000, before })
        if (rows.length === 0) return
        // In CSV, details (a different shape per action) is one JSON column.
        yield rows.map(auditView).map((row) => (format === 'csv' ? { ...row, details: JSON.stringify(row.details) } : row))
        before = rows.at(-1)!.id
      }
    }
    return streamRows(request, reply, format, null, pages(), 'audit')
  }
}
