#!/usr/bin/env node
// The test command: runs tap against the PostgreSQL server in DATABASE_URL, or, when it is not
// set, against an embedded PostgreSQL started for this run (a throwaway cluster in a temporary
// directory on a free port). Each test file then creates and migrates a database of its own.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'


// A clone installed with `npm ci --omit=dev` has no test tools: say so rather than fail obscurely.
if (!existsSync(path.resolve('node_modules/tap/package.json'))) {
  process.stderr.write('npm test needs the development dependencies: run `npm ci` (not `npm ci --omit=dev`)\n')
  process.exit(1)
}
// The browser tests drive Debian's Chromium; without it they fail, one by one, much later.
if (!existsSync('/usr/bin/chromium')) {
  process.stderr.write('warning: /usr/bin/chromium is missing, so the browser tests will fail: apt-get install chromium\n')
}

const { startThrowawayPostgres } = await import('../scripts/throwaway-postgres.mjs')

// Some tests run the service as a real process (start-up, signals, kill -9): build it first.
const build = spawn(process.execPath, [path.resolve('scripts/build.mjs'), '--if-changed'], { stdio: 'inherit' })
if ((await new Promise((resolve) => build.on('exit', resolve))) !== 0) process.exit(1)

let url = process.env.DATABASE_URL
let embedded
if (!url) {
  embedded = await startThrowawayPostgres({ prefix: 'searchtrack-test-pg-', flags: ['-c', 'max_connections=300'] })
  url = embedded.url
  process.stdout.write(`# tests run against an embedded PostgreSQL (${new URL(url).port})\n`)
} else {
  process.stdout.write(`# tests run against DATABASE_URL (${url.replace(/:[^:@/]*@/, ':***@')})\n`)
}

const tap = spawn(process.execPath, [path.resolve('node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], {
  stdio: ['inherit', 'pipe', 'inherit'],
  env: { ...process.env, TEST_DATABASE_URL: url },
})
// Pass tap's output through, keeping its closing count (`# { total: N, pass: N, fail: N }`) to
// print it as the plain `N passed, N failed` line that any CI reader understands.
let tail = ''
tap.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-4096)
})
let code = await new Promise((resolve) => tap.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))))
const summary = [...tail.matchAll(/# \{ ([^}]*) \}/g)].pop()
const count = (name) => Number(summary?.[1].match(new RegExp(`${name}: (\\d+)`))?.[1] ?? 0)
const [passed, failed, skipped] = [count('pass'), count('fail'), count('skip') + count('todo')]
if (passed + failed === 0) {
  process.stdout.write('no test ran\n')
  code = code || 1
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`)
await embedded?.remove()
process.exit(code)
