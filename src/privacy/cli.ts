import { parseArgs } from 'node:util'
import type pg from 'pg'
import { eraseSubject } from './erase.js'
import { exportSubject } from './export.js'
import { auditDigest, checkSelector, resolveSubject, SubjectError, type SubjectSelector } from './subject.js'
import { readAllSettings, readSettings, updateSettings, SettingsError, type PrivacySettings } from './settings.js'
import { recordAudit } from '../admin/audit.js'
import { lastRetentionRun } from './retention.js'

export const PRIVACY_USAGE = `  privacy export --org <id> (--visitor V | --user U | --inbenta-session S | --inbenta-user field=value)
                                                        everything held about a person, as NDJSON
  privacy erase --org <id> (--visitor V | --user U | --inbenta-session S | --inbenta-user field=value)
                                                        erase a person; prints what was removed per table
  retention set --org <id> [--raw-days N|forever] [--rollup-days N|forever]
                                                        how long raw events and report data are kept
  retention show [--org <id>]                           retention settings and the last retention run
  orgs identity set --org <id> [--anonymous true|false] [--ip masked|none|hash] [--user keep|hash|drop]
                                                        what identity an org's events keep`

/** A mistake in the command line: the message, then the usage. */
export class PrivacyUsageError extends Error {
  override name = 'PrivacyUsageError'
}

export interface PrivacyCliContext {
  db: pg.Pool
  /** Who the audit log names: `cli:<system user>`. */
  actor: string
  /** DATA_DIR/quarantine. */
  quarantineDir: string
  orgExists(orgId: string): Promise<boolean>
}

type Out = (line: string) => void

function options(args: string[], spec: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args, options: spec, allowPositionals: false, strict: true }).values as Record<string, string | undefined>
  } catch (err) {
    throw new PrivacyUsageError((err as Error).message)
  }
}

function days(name: string, value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined
  if (value === 'forever') return null
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new PrivacyUsageError(`--${name} is a whole number of days, or forever`)
  return n
}

function describe(orgId: string, s: PrivacySettings): string {
  const d = (n: number | null) => (n === null ? 'forever' : `${n} days`)
  return `${orgId}\traw=${d(s.rawDays)}\trollups=${d(s.rollupDays)}\tanonymous=${s.anonymous}\tip=${s.ipPolicy}\tuser=${s.userPolicy}`
}

/** `privacy …`, `retention …` and `orgs identity set`: args start at the group's action. */
export async function runPrivacyCli(command: string, args: string[], ctx: PrivacyCliContext, out: Out): Promise<number> {
  const requireOrg = async (org: string | undefined, what: string) => {
    if (!org) throw new PrivacyUsageError(`${what} needs --org`)
    if (!(await ctx.orgExists(org))) throw new SubjectError(`no organization ${org}`)
    return org
  }
  switch (command) {
    case 'privacy export':
    case 'privacy erase': {
      const v = options(args, { org: { type: 'string' }, visitor: { type: 'string' }, user: { type: 'string' }, 'inbenta-session': { type: 'string' }, 'inbenta-user': { type: 'string' } })
      const org = await requireOrg(v.org, command)
      let inbentaUser: SubjectSelector['inbentaUser']
      if (v['inbenta-user'] !== undefined) {
        const at = v['inbenta-user'].indexOf('=')
        if (at <= 0) throw new PrivacyUsageError('--inbenta-user is field=value (a field of the session\'s user information)')
        inbentaUser = { field: v['inbenta-user'].slice(0, at), value: v['inbenta-user'].slice(at + 1) }
      }
      const selector: SubjectSelector = { visitorId: v.visitor, userName: v.user, inbentaSession: v['inbenta-session'], inbentaUser }
      try {
        checkSelector(selector)
      } catch {
        throw new PrivacyUsageError(`${command} needs exactly one of --visitor, --user, --inbenta-session, --inbenta-user`)
      }
      const subject = await resolveSubject(ctx.db, org, selector)
      const digest = auditDigest(org, selector)
      if (command === 'privacy export') {
        let lines = 0
        for await (const line of exportSubject(ctx.db, subject, { quarantineDir: ctx.quarantineDir })) {
          out(line.trimEnd())
          lines++
        }
        await recordAudit(ctx.db, { actor: ctx.actor, orgId: org, action: 'privacy.export', target: digest, details: { lines: lines - 1 } })
      } else {
        // The events' receipt times are on the database's clock: so is the moment of the erasure.
        const now = (await ctx.db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now
        const removed = await eraseSubject(ctx.db, subject, { now, quarantineDir: ctx.quarantineDir })
        await recordAudit(ctx.db, { actor: ctx.actor, orgId: org, action: 'privacy.erase', target: digest, details: { removed } })
        out(JSON.stringify({ removed }))
      }
      return 0
    }
    case 'retention set': {
      const v = options(args, { org: { type: 'string' }, 'raw-days': { type: 'string' }, 'rollup-days': { type: 'string' } })
      const org = await requireOrg(v.org, command)
      const change: Partial<PrivacySettings> = {}
      const raw = days('raw-days', v['raw-days'])
      const rollup = days('rollup-days', v['rollup-days'])
      if (raw !== undefined) change.rawDays = raw
      if (rollup !== undefined) change.rollupDays = rollup
      if (Object.keys(change).length === 0) throw new PrivacyUsageError('retention set needs --raw-days or --rollup-days')
      const next = await updateSettings(ctx.db, org, change)
      await recordAudit(ctx.db, { actor: ctx.actor, orgId: org, action: 'retention.update', details: { rawDays: next.rawDays, rollupDays: next.rollupDays } })
      out(describe(org, next))
      return 0
    }
    case 'retention show': {
      const v = options(args, { org: { type: 'string' } })
      if (v.org) out(describe(await requireOrg(v.org, command), await readSettings(ctx.db, v.org)))
      else for (const [org, s] of await readAllSettings(ctx.db)) out(describe(org, s))
      const run = await lastRetentionRun(ctx.db)
      out(run.lastRunAt ? `last retention run: ${run.lastRunAt.toISOString()} (${run.lastRunMs} ms, ${run.deletedRows} rows deleted, partitions dropped: ${run.dropped.join(', ') || 'none'})` : 'last retention run: never')
      return 0
    }
    case 'orgs identity': {
      if (args[0] !== 'set') throw new PrivacyUsageError('usage: orgs identity set --org <id> …')
      const v = options(args.slice(1), { org: { type: 'string' }, anonymous: { type: 'string' }, ip: { type: 'string' }, user: { type: 'string' } })
      const org = await requireOrg(v.org, 'orgs identity set')
      const change: Partial<PrivacySettings> = {}
      if (v.anonymous !== undefined) {
        if (v.anonymous !== 'true' && v.anonymous !== 'false') throw new PrivacyUsageError('--anonymous is true or false')
        change.anonymous = v.anonymous === 'true'
      }
      if (v.ip !== undefined) change.ipPolicy = v.ip as PrivacySettings['ipPolicy']
      if (v.user !== undefined) change.userPolicy = v.user as PrivacySettings['userPolicy']
      if (Object.keys(change).length === 0) throw new PrivacyUsageError('orgs identity set needs --anonymous, --ip or --user')
      let next: PrivacySettings
      try {
        next = await updateSettings(ctx.db, org, change)
      } catch (err) {
        if (err instanceof SettingsError) throw new PrivacyUsageError(err.message)
        throw err
      }
      await recordAudit(ctx.db, { actor: ctx.actor, orgId: org, action: 'org.identity.update', details: { ...change } })
      out(describe(org, next))
      return 0
    }
    default:
      throw new PrivacyUsageError(`unknown command: ${command}`)
  }
}
