import { Readable } from 'node:stream'
import path from 'node:path'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { NotFoundError, ORG_ID_PATTERN } from '../auth/keys.js'
import { classifyError } from '../errors.js'
import { requireAdmin } from '../admin/auth.js'
import { recordAudit } from '../admin/audit.js'
import { eraseSubject } from './erase.js'
import { exportSubject } from './export.js'
import { MAX_DAYS, SettingsError, updateSettings, IP_POLICIES, USER_POLICIES, type PrivacySettings } from './settings.js'
import { auditDigest, resolveSubject, SubjectError, type SubjectSelector } from './subject.js'

const OrgParams = Type.Object({ org: Type.String({ pattern: ORG_ID_PATTERN.source }) })
const Identifier = Type.String({ minLength: 1, maxLength: 1024 })
const SelectorBody = Type.Object(
  {
    visitorId: Type.Optional(Identifier),
    userName: Type.Optional(Identifier),
    inbentaSession: Type.Optional(Identifier),
    inbentaUser: Type.Optional(Type.Object({ field: Identifier, value: Identifier }, { additionalProperties: false })),
  },
  { additionalProperties: false },
)
// One schema with both types, not a union: Fastify's validator coerces 0 to null for a null branch.
const Days = Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: MAX_DAYS })
const RetentionBody = Type.Object({ rawDays: Days, rollupDays: Days }, { additionalProperties: false })
const IdentityBody = Type.Object(
  {
    anonymous: Type.Optional(Type.Boolean()),
    ipPolicy: Type.Optional(Type.Union(IP_POLICIES.map((p) => Type.Literal(p)))),
    userPolicy: Type.Optional(Type.Union(USER_POLICIES.map((p) => Type.Literal(p)))),
  },
  { additionalProperties: false, minProperties: 1 },
)

/**
 * Privacy admin routes under /api/v1/admin: a person's export and erasure, an org's retention
 * and identity controls. Each leaves an audit entry naming the admin key, never the person's
 * identifiers (a digest) nor a secret. Errors read `{message, type}`.
 */
export const privacyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const quarantineDir = path.join(app.config.DATA_DIR, 'quarantine')

  app.setErrorHandler((err, request, reply) => {
    const e =
      err instanceof SubjectError || err instanceof SettingsError ? { statusCode: 400, code: 'InvalidValue', message: err.message, headers: {}, internal: false }
      : err instanceof NotFoundError ? { statusCode: 404, code: 'NotFound', message: err.message, headers: {}, internal: false }
      : classifyError(err)
    if (e.internal) request.log.error({ err }, 'privacy request failed')
    return reply.code(e.statusCode).headers(e.headers).send({ message: e.message, type: e.code })
  })

  async function orgOr404(orgId: string): Promise<void> {
    if (!(await app.keys.getOrg(orgId))) throw new NotFoundError(`no organization ${orgId}`)
  }

  app.post('/orgs/:org/privacy/export', { schema: { params: OrgParams, body: SelectorBody } }, async (request, reply) => {
    const { org } = request.params
    const admin = await requireAdmin(request, org)
    await orgOr404(org)
    const selector: SubjectSelector = request.body
    const subject = await resolveSubject(app.db, org, selector)
    await recordAudit(app.db, { actor: admin.actor, orgId: org, action: 'privacy.export', target: auditDigest(org, selector) })
    reply.type('application/x-ndjson; charset=utf-8')
    return reply.send(Readable.from(exportSubject(app.db, subject, { quarantineDir })))
  })

  app.post('/orgs/:org/privacy/erase', { schema: { params: OrgParams, body: SelectorBody } }, async (request) => {
    const { org } = request.params
    const admin = await requireAdmin(request, org)
    await orgOr404(org)
    const selector: SubjectSelector = request.body
    const subject = await resolveSubject(app.db, org, selector)
    const removed = await eraseSubject(app.db, subject, { now: app.clock(), quarantineDir })
    await recordAudit(app.db, { actor: admin.actor, orgId: org, action: 'privacy.erase', target: auditDigest(org, selector), details: { removed } })
    return { data: { removed } }
  })

  app.put('/orgs/:org/retention', { schema: { params: OrgParams, body: RetentionBody } }, async (request) => {
    const { org } = request.params
    const admin = await requireAdmin(request, org)
    await orgOr404(org)
    const next = await updateSettings(app.db, org, request.body)
    await recordAudit(app.db, { actor: admin.actor, orgId: org, action: 'retention.update', details: { rawDays: next.rawDays, rollupDays: next.rollupDays } })
    return { data: { rawDays: next.rawDays, rollupDays: next.rollupDays } }
  })

  app.patch('/orgs/:org/identity', { schema: { params: OrgParams, body: IdentityBody } }, async (request) => {
    const { org } = request.params
    const admin = await requireAdmin(request, org)
    await orgOr404(org)
    const change: Partial<PrivacySettings> = request.body
    const next = await updateSettings(app.db, org, change)
    app.identity.forget(org)
    await recordAudit(app.db, { actor: admin.actor, orgId: org, action: 'org.identity.update', details: { ...change } })
    return { data: { anonymous: next.anonymous, ipPolicy: next.ipPolicy, userPolicy: next.userPolicy } }
  })
}
