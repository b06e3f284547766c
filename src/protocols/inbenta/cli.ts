import { parseArgs } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { DATA_KEY_PATTERN } from './actions.js'
import { DataKeyStore } from './priorities.js'

export const INBENTA_USAGE = `  inbenta priorities list --org <id>                    data keys and priorities of an organization
  inbenta priorities set --org <id> --key <KEY> --priority <n>
                                                        add a custom data key or change a priority
                                                        (1 = most important, 0 = never a session result)`

/** A mistake in the command line; cli.ts turns it into its usage error (exit code 2). */
export class InbentaUsageError extends Error {}

/** `inbenta priorities …` admin commands. */
export async function runInbentaCli(args: string[], server: FastifyInstance, out: (line: string) => void): Promise<number> {
  const [sub, ...rest] = args
  const { values } = parseArgs({
    args: rest,
    options: { org: { type: 'string' }, key: { type: 'string' }, priority: { type: 'string' } },
    strict: true,
  })
  if (!values.org) throw new InbentaUsageError(`inbenta priorities ${sub ?? ''} needs --org\n${INBENTA_USAGE}`)
  if (!(await server.keys.getOrg(values.org))) throw new InbentaUsageError(`no organization ${values.org}`)
  const store = new DataKeyStore(server.db)
  switch (sub) {
    case 'list':
      for (const k of await store.list(values.org)) out(`${k.dataKey}\t${k.priority}\t${k.source}`)
      return 0
    case 'set': {
      const key = values.key ?? ''
      if (!DATA_KEY_PATTERN.test(key)) throw new InbentaUsageError('--key must be an upper-case data key such as MY_CUSTOM_KEY')
      const priority = Number(values.priority)
      if (values.priority === undefined || !Number.isInteger(priority) || priority < 0 || priority > 1000) {
        throw new InbentaUsageError('--priority must be an integer from 0 (no priority) to 1000; 1 is the most important')
      }
      await store.set(values.org, key, priority)
      out(`${values.org}: ${key} has priority ${priority}`)
      return 0
    }
    default:
      throw new InbentaUsageError(`unknown command: inbenta priorities ${sub ?? ''}\n${INBENTA_USAGE}`)
  }
}
