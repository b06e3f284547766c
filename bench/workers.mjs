#!/usr/bin/env node
// `npm run -s bench:workers` (about 3 minutes): what WORKERS=2 gives against WORKERS=1 on this
// machine. PostgreSQL (embedded, durable defaults, or DATABASE_URL) and searchtrack run as usual;
// the load generator (bench/workers-load.mjs) is pinned to the last core with taskset, so the
// service and the database get the rest of the machine plus what the generator leaves. Rounds
// alternate 1, 2, 2, 1, 1, 2… workers on one database, so drift (checkpoints, a busy neighbour)
// falls on both sides. For each: requests per second, latency, and the service's CPU time per
// 1,000 events (every process of it, from /proc). Prints one JSON document; progress on stderr.
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { openBenchDatabase, freePort } from './database.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = 50
const log = (message) => process.stderr.write(`bench:workers: ${message}\n`)
const run = promisify(execFile)
const CLOCK_TICKS = 100 // USER_HZ on Linux

/** CPU seconds (user + system) of a process and its descendants, from /proc. */
function cpuSeconds(pid) {
  let total = 0
  const stack = [pid]
  while (stack.length) {
    const p = stack.pop()
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
      for (const task of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) stack.push(Number(task))
    } catch {
      /* gone */
    }
  }
  return total
}

async function startService(env, workers) {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: root, env: { ...process.env, ...env, WORKERS: String(workers), PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`searchtrack exited:\n${output}`)
    if (output.includes('searchtrack: ready at')) return { child, base }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`searchtrack did not start:\n${output}`)
}

async function stopService(service) {
  const exited = new Promise((resolve) => service.child.once('exit', resolve))
  service.child.kill('SIGTERM')
  await exited
}

async function round(env, key, workers) {
  const service = await startService(env, workers)
  try {
    // A short warm-up: JIT, connections, the key cache of every worker.
    await run('taskset', ['-c', String(availableParallelism() - 1), process.execPath, 'bench/workers-load.mjs', service.base, key, '2', String(CONNECTIONS)], { cwd: root })
    const before = cpuSeconds(service.child.pid)
    const { stdout } = await run('taskset', ['-c', String(availableParallelism() - 1), process.execPath, 'bench/workers-load.mjs', service.base, key, String(SECONDS), String(CONNECTIONS)], { cwd: root })
    const cpu = cpuSeconds(service.child.pid) - before
    const load = JSON.parse(stdout)
    return { workers, ...load, serviceCpuMsPer1000Events: Math.round((cpu * 1e6) / Math.max(load.requests, 1)), loadAverage: loadavg()[0] }
  } finally {
    await stopService(service)
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

const database = await openBenchDatabase()
const dataDir = await mkdtemp(path.join(tmpdir(), 'searchtrack-bench-workers-'))
try {
  const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn', BOOTSTRAP_DEFAULT_ORG: 'false', RATE_LIMIT_PER_MINUTE: '0', DATA_DIR: dataDir, REPORTS_MAINTENANCE: 'false' }
  await run(process.execPath, ['dist/cli.js', 'orgs', 'create', 'bench'], { cwd: root, env: { ...process.env, ...env } })
  const key = JSON.parse((await run(process.execPath, ['dist/cli.js', 'keys', 'create', '--org', 'bench', '--privileges', 'analytics:push', '--json'], { cwd: root, env: { ...process.env, ...env } })).stdout).key
  const rounds = []
  for (let r = 0; r < ROUNDS; r++) {
    for (const workers of r % 2 === 0 ? [1, 2] : [2, 1]) {
      log(`round ${r + 1}: ${workers} worker(s), ${SECONDS} s`)
      rounds.push(await round(env, key, workers))
    }
  }
  const side = (w) => rounds.filter((x) => x.workers === w)
  const summary = Object.fromEntries(
    [1, 2].map((w) => [`workers${w}`, {
      requestsPerSecond: median(side(w).map((x) => x.requestsPerSecond)),
      p99Ms: median(side(w).map((x) => x.p99Ms)),
      serviceCpuMsPer1000Events: median(side(w).map((x) => x.serviceCpuMsPer1000Events)),
    }]),
  )
  summary.throughputRatio2to1 = Math.round((summary.workers2.requestsPerSecond / summary.workers1.requestsPerSecond) * 100) / 100
  summary.cpuPerEventRatio2to1 = Math.round((summary.workers2.serviceCpuMsPer1000Events / summary.workers1.serviceCpuMsPer1000Events) * 100) / 100
  process.stdout.write(JSON.stringify({ startedAt: new Date().toISOString(), cores: availableParallelism(), database: database.describe, seconds: SECONDS, connections: CONNECTIONS, loadGeneratorCore: availableParallelism() - 1, summary, rounds }, null, 2) + '\n')
} finally {
  await rm(dataDir, { recursive: true, force: true })
  await database.stop()
}
