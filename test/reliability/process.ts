import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { until } from './load.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixtures = { serve: fileURLToPath(new URL('./fixtures/serve.mjs', import.meta.url)), cluster: fileURLToPath(new URL('./fixtures/cluster.mjs', import.meta.url)) }

export interface Service {
  child: ChildProcess
  base: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>
  /** Send a signal; `exited` reports how long the process took to go after it. */
  signal(signal: NodeJS.Signals): void
}

/** The built service plus test routes, as a process; `cluster` runs it with main.js's cluster entry. */
export async function startService(env: Record<string, string>, port: number, fixture: keyof typeof fixtures = 'serve'): Promise<Service> {
  const child = spawn(process.execPath, [fixtures[fixture]], {
    cwd: root,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), BOOTSTRAP_DEFAULT_ORG: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output = (output + d).slice(-20_000)))
  child.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)))
  let signalledAt = Date.now()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - signalledAt })),
  )
  let gone = false
  void exited.then(() => (gone = true))
  const base = `http://127.0.0.1:${port}`
  await until(async () => {
    if (gone) throw new Error(`the service exited at start:\n${output}`)
    return fetch(`${base}/health`).then((r) => r.ok, () => false)
  }, 'the service to listen', 120_000)
  return {
    child,
    base,
    output: () => output,
    exited,
    signal: (signal) => {
      signalledAt = Date.now()
      child.kill(signal)
    },
  }
}
