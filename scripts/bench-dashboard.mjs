#!/usr/bin/env node
// The dashboard's weight and speed: the compressed bytes of what the overview loads (its script
// and stylesheet, as the service sends them to a browser accepting brotli or gzip), and the time
// from navigation to the overview showing its figures and chart, in headless Chromium against the
// built service on a throwaway PostgreSQL with a month of made-up searches (median of 7 cold loads).
//
//   node scripts/bench-dashboard.mjs
import { spawn } from 'node:child_process'
import { readFileSync, statSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = (args, env = {}) => new Promise((resolve, reject) => {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })
  child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}`))))
})

await run([path.join(root, 'scripts/build.mjs'), '--if-changed'])
const html = readFileSync(path.join(root, 'dist/web/index.html'), 'utf8')
const assets = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1])
const size = (file) => statSync(path.join(root, 'dist/web/assets', file)).size
const sum = (suffix) => assets.reduce((n, a) => n + size(a + suffix), 0)
const kb = (n) => `${(n / 1024).toFixed(1)} KB`
console.log(`overview assets: ${assets.join(', ')}`)
console.log(`  uncompressed ${kb(sum(''))}, gzip ${kb(sum('.gz'))}, brotli ${kb(sum('.br'))} (target < 300 KB)`)

const dir = mkdtempSync(path.join(tmpdir(), 'searchtrack-bench-dashboard-'))
try {
  const out = path.join(dir, 'result.json')
  await run([path.join(root, 'test/run.mjs'), 'test/dashboard/bench.ts', '--disable-coverage'], { BENCH_OUT: out })
  const { times, phase, serverMs } = JSON.parse(readFileSync(out, 'utf8'))
  const median = times[Math.floor(times.length / 2)]
  console.log(`first render with data (navigation to figures and chart, cold cache, ${times.length} loads): median ${median} ms, min ${times[0]} ms, max ${times.at(-1)} ms (target < 1000 ms)`)
  console.log(`  medians since navigation: page ${phase.html} ms, script ${phase.script} ms, overview asked ${phase.overviewAsked} ms and answered ${phase.overviewApi} ms, series answer ${phase.timeseriesApi} ms`)
  console.log(`  the reports alone inside the service (median): overview ${serverMs.overview} ms, timeseries ${serverMs.timeseries} ms`)
  console.log(`  machine load average: ${loadavg().map((n) => n.toFixed(1)).join(' ')} on ${cpus().length} cores`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
