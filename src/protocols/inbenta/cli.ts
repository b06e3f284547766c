import { parseArgs } from 'node:util'
import type { KeyStore } from '../../auth/keys.js'
import type { AdminOperations } from '../../admin/operations.js'

export const INBENTA_USAGE = `  inbenta priorities list --org <id>                    data keys and priorities of an organization
  inbenta priorities set --org <id> --key <KEY> --priority <n>
                                                        add a custom data key or change a priority
                                                        (1 = most important, 0 = never a session result)
  inbenta priorities reset --org <id> --key <KEY>       back to the shipped priority (or remove a custom key)`

/** A mistake in the command line; cli.ts turns it into its usage error (exit code 2). */
export class InbentaUsageError extends Error {}

/** `inbenta priorities …` admin commands; changes go through the audited admin operations. */
export async function runInbentaCli(
  args: string[],
  admin: { keys: KeyStore; operations: AdminOperations; actor: string },
  out: (line: string) => void,
): Promise<number> {
  const [sub, ...rest] = args
  const { values } = parseArgs({
    args: rest,
    options: { org: { type: 'string' }, key: { type: 'string' }, priority: { type: 'string' } },
    strict: true,
  })
  if (!values.org) throw new InbentaUsageError(`inbenta priorities ${sub ?? ''} needs --org\n${INBENTA_USAGE}`)
  if (!(await admin.keys.getOrg(values.org))) throw new InbentaUsageError(`no organization ${values.org}`)
  switch (sub) {
    case 'list':
      for (const k of await admin.operations.listPriorities(values.org)) out(`${k.dataKey}\t${k.priority}\t${k.source}`)
      return 0
    case 'set': {
      if (!values.key) throw new InbentaUsageError('inbenta priorities set needs --key, such as --key MY_CUSTOM_KEY')
      if (values.priority === undefined || !/^\d+$/.test(values.priority)) {
        throw new InbentaUsageError('--priority must be an integer from 0 (no priority) to 1000; 1 is the most important')
      }
      const priority = Number(values.priority)
      await admin.operations.setPriority(admin.actor, values.org, values.key, priority)
      out(`${values.org}: ${values.key} has priority ${priority}`)
      return 0
    }
    case 'reset': {
      if (!values.key) throw new InbentaUsageError('inbenta priorities reset needs --key')
      const reset = await admin.operations.resetPriority(admin.actor, values.org, values.key)
      out(reset ? `${values.org}: ${values.key} is back to its shipped priority` : `${values.org}: ${values.key} had no priority of its own`)
      return 0
    }
    default:
      throw new InbentaUsageError(`unknown command: inbenta priorities ${sub ?? ''}\n${INBENTA_USAGE}`)
  }
}
