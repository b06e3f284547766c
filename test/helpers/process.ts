import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface ServiceProcess {
  child: ChildProcess
  url: string
  /** Everything the process printed so far (stdout and stderr). */
  output(): string
  exited: Promise<number | null>
}

/**
 * A working directory of the process's own (removed when it exits), unless the test gives one:
 * the service and the CLI read `.env` and resolve the default DATA_DIR (`.data`) from there, and
 * a developer's own `.env` or running service in the repository must not leak into a test.
 */
function workingDirectory(cwd: string | undefined): { cwd: string; remove(): void } {
  if (cwd) return { cwd, remove: () => {} }
  const dir = mkdtempSync(path.join(tmpdir(), 'searchtrack-cwd-'))
  return { cwd: dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Run the built service (`dist/main.js`, built by `npm test`) as a real process. */
export async function startService(env: Record<string, string>, timeoutMs = 180_000, cwd?: string): Promise<ServiceProcess> {
  const port = env.PORT ?? String(await freePort())
  const dir = workingDirectory(cwd)
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/main.js')], {
    cwd: dir.cwd,
    env: { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (c) => (out += c))
  child.stderr!.on('data', (c) => (out += c))
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      dir.remove()
      resolve(code)
    }),
  )
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited early (${child.exitCode}):\n${out}`)
    const ready = await fetch(`${url}/ready`).then((r) => r.status === 200, () => false)
    if (ready) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`service not ready in ${timeoutMs} ms:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return { child, url, output: () => out, exited }
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * This process's environment with `env` over it; a variable given as undefined is left out, so a
 * test can take away what the suite runs with (DATABASE_URL, when the suite has one).
 */
function childEnv(env: Record<string, string | undefined>): Record<string, string> {
  const merged: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'warn', ...env }
  return Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined))
}

/** Run an admin command (`dist/cli.js`) as a real process, as `npm run cli -- …` does. */
export function runCliProcess(args: string[], env: Record<string, string | undefined>, cwd?: string): Promise<CliResult> {
  const dir = workingDirectory(cwd)
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), ...args], {
    cwd: dir.cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c) => (stdout += c))
  child.stderr!.on('data', (c) => (stderr += c))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      dir.remove()
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Stop a PostgreSQL left running on `dataDir`'s embedded cluster (it runs in a session of its
 * own, so killing a service with SIGKILL leaves it behind): a cleanup for tests that fail midway.
 */
export async function stopEmbeddedPostgresIn(dataDir: string): Promise<void> {
  const pidFile = await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => null)
  const pid = Number(pidFile?.split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (!alive()) return
  process.kill(pid, 'SIGINT')
  for (let i = 0; i < 300 && alive(); i++) await new Promise((r) => setTimeout(r, 100))
}
