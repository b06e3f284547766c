#!/usr/bin/env node
// There is no Docker engine on the development and CI machines. This rehearses, on this machine,
// what `docker build` and `docker run` do with the Dockerfile, so that a missing file, a
// dependency the production install lacks or a broken start shows up before anyone builds the
// image:
//
//   - the build context: the repository's files less what .dockerignore excludes;
//   - every stage's WORKDIR and COPY (from the context or, with --from, from an earlier stage),
//     each stage in a directory of its own standing for its WORKDIR;
//   - the RUN commands of the stages that others copy from (npm ci, the compile). The final
//     stage's RUN commands set up the system (a /data directory, its owner): they are listed, not
//     run, and neither are USER, VOLUME and EXPOSE;
//   - the final stage's CMD with its ENV (HOST, PORT and DATA_DIR pointed at this machine's
//     loopback, a free port and a temporary directory), on the embedded PostgreSQL: /ready must
//     answer, an admin command must work beside it (as `docker compose exec … node dist/cli.js`),
//     the HEALTHCHECK command must pass, and SIGTERM must end it with exit code 0.
//
// It also checks that no test or benchmark tool made it into the final stage.
//
//   node scripts/rehearse-image.mjs [--keep]     (--keep: leave the stage directories for a look)
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const root = fileURLToPath(new URL('..', import.meta.url))
const keep = process.argv.includes('--keep')
const TEST_TOOLS = ['tap', 'playwright-core', '@coveo/headless', 'coveo.analytics', 'autocannon', 'typescript', 'eslint', '@redocly/cli']
const log = (line) => process.stdout.write(`image: ${line}\n`)

function fail(message) {
  process.stderr.write(`image: FAILED: ${message}\n`)
  process.exit(1)
}

// ---- the build context --------------------------------------------------------------------
function globToRegExp(pattern) {
  const p = pattern.replace(/^\/+|\/+$/g, '')
  const body = p
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
    .join('.*')
  return new RegExp(`^${body}(/.*)?$`)
}

function buildContext() {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(path.join(root, f)))
  const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
  if (ignore.some((l) => l.startsWith('!'))) fail('.dockerignore exceptions (!) are not rehearsed here')
  const patterns = ignore.map(globToRegExp)
  return new Set(files.filter((f) => !patterns.some((re) => re.test(f))))
}

// ---- the Dockerfile -----------------------------------------------------------------------
function instructions() {
  const lines = readFileSync(path.join(root, 'Dockerfile'), 'utf8').split('\n')
  const out = []
  let current = ''
  for (const line of lines) {
    if (!current && (line.trim() === '' || line.trim().startsWith('#'))) continue
    if (current && line.trim().startsWith('#')) continue
    current += (current ? ' ' : '') + line.trim()
    if (current.endsWith('\\')) {
      current = current.slice(0, -1).trim()
      continue
    }
    const [keyword, ...rest] = current.split(/\s+/)
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') })
    current = ''
  }
  return out
}

function stages() {
  const result = []
  for (const ins of instructions()) {
    if (ins.keyword === 'FROM') {
      const [image, as, name] = ins.args.split(/\s+/)
      result.push({ image, name: as?.toUpperCase() === 'AS' ? name : String(result.length), steps: [] })
    } else {
      if (!result.length) fail(`${ins.keyword} before FROM`)
      result.at(-1).steps.push(ins)
    }
  }
  return result
}

function envPairs(args) {
  const env = {}
  for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '')
  return env
}

function execForm(args, what) {
  try {
    const value = JSON.parse(args)
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value
  } catch {
    // fall through
  }
  return fail(`${what} is not in exec (JSON array) form: ${args}`)
}

// ---- rehearsal ----------------------------------------------------------------------------
const work = mkdtempSync(path.join(tmpdir(), 'searchtrack-image-'))
chmodSync(work, 0o755)
const children = []
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  if (!keep) rmSync(work, { recursive: true, force: true })
}
process.on('exit', cleanup)

const context = buildContext()
const all = stages()
const usedAsSource = new Set(all.flatMap((s) => s.steps.filter((i) => i.keyword === 'COPY').map((i) => /--from=(\S+)/.exec(i.args)?.[1]).filter(Boolean)))
const dirs = new Map()
let final

for (const [index, stage] of all.entries()) {
  const dir = path.join(work, `stage-${stage.name}`)
  mkdirSync(dir, { recursive: true })
  dirs.set(stage.name, dir)
  let workdir = '/'
  const env = {}
  let cmd = null
  let healthcheck = null
  const isFinal = index === all.length - 1
  log(`stage ${stage.name} (FROM ${stage.image})`)
  const local = (p) => {
    const abs = path.posix.resolve(workdir, p)
    if (!abs.startsWith(workdir)) fail(`${p} is outside WORKDIR ${workdir}: not rehearsed`)
    return path.join(dir, path.posix.relative(workdir, abs))
  }
  for (const { keyword, args } of stage.steps) {
    switch (keyword) {
      case 'WORKDIR':
        if (workdir !== '/') fail('a second WORKDIR in one stage is not rehearsed')
        workdir = args
        break
      case 'ENV':
        Object.assign(env, envPairs(args))
        break
      case 'COPY': {
        const from = /--from=(\S+)/.exec(args)?.[1]
        const parts = args.replace(/--\S+/g, '').trim().split(/\s+/)
        const dest = parts.pop()
        const toDir = dest.endsWith('/') || parts.length > 1
        for (const source of parts) {
          if (from) {
            const fromStage = all.find((s) => s.name === from)
            if (!fromStage) fail(`COPY --from=${from}: no such stage`)
            const fromWorkdir = fromStage.steps.find((i) => i.keyword === 'WORKDIR')?.args ?? '/'
            const src = path.join(dirs.get(from), path.posix.relative(fromWorkdir, source))
            if (!existsSync(src)) fail(`COPY --from=${from} ${source}: stage ${from} has no such path`)
            const target = statSync(src).isDirectory() || !toDir ? local(dest) : path.join(local(dest), path.basename(src))
            cpSync(src, target, { recursive: true, verbatimSymlinks: true })
          } else {
            const clean = source.replace(/^\.\//, '').replace(/\/$/, '')
            const matched = [...context].filter((f) => f === clean || f.startsWith(clean + '/'))
            if (matched.length === 0) fail(`COPY ${source}: not in the build context (missing, or excluded by .dockerignore)`)
            for (const file of matched) {
              const rel = file === clean ? path.basename(file) : path.relative(clean, file)
              const target = file === clean && !toDir ? local(dest) : path.join(local(dest), rel)
              mkdirSync(path.dirname(target), { recursive: true })
              cpSync(path.join(root, file), target)
            }
          }
        }
        log(`  COPY ${args}`)
        break
      }
      case 'RUN':
        if (!usedAsSource.has(stage.name)) {
          log(`  RUN ${args}  (system setup of the final stage: not run here)`)
          break
        }
        log(`  RUN ${args}`)
        {
          const r = spawnSync('sh', ['-c', args], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } })
          if (r.status !== 0) fail(`RUN ${args} exited with ${r.status}`)
        }
        break
      case 'CMD':
        cmd = execForm(args, 'CMD')
        break
      case 'HEALTHCHECK':
        healthcheck = execForm(args.replace(/^(--\S+\s+)*CMD\s+/, ''), 'HEALTHCHECK')
        break
      case 'USER':
      case 'VOLUME':
      case 'EXPOSE':
        log(`  ${keyword} ${args}  (not rehearsed)`)
        break
      default:
        fail(`${keyword} is not rehearsed here`)
    }
  }
  if (isFinal) final = { dir, env, cmd, healthcheck }
}

// ---- the final stage: what the image holds, then `docker run` ---------------------------------
const modules = path.join(final.dir, 'node_modules')
const shipped = TEST_TOOLS.filter((name) => existsSync(path.join(modules, name)))
if (shipped.length) fail(`the image would ship test or benchmark tools: ${shipped.join(', ')}`)
const size = execFileSync('du', ['-sm', modules], { encoding: 'utf8' }).split('\t')[0]
log(`final stage: node_modules ${size} MB, no test or benchmark tools`)
if (!final.cmd) fail('the final stage has no CMD')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

const dataDir = path.join(work, 'data')
mkdirSync(dataDir)
chmodSync(dataDir, 0o755)
const port = await freePort()
const runEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME ?? '/tmp',
  ...final.env,
  // This machine's stand-ins for the container's network and volume:
  HOST: '127.0.0.1',
  PORT: String(port),
  DATA_DIR: dataDir,
  EMBEDDED_PG_PORT: String(await freePort()),
  LOG_LEVEL: 'warn',
}
log(`run: ${final.cmd.join(' ')} (PORT=${port}, embedded PostgreSQL in a temporary DATA_DIR)`)
const started = Date.now()
const service = spawn(final.cmd[0], final.cmd.slice(1), { cwd: final.dir, env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] })
children.push(service)
let output = ''
service.stdout.on('data', (c) => (output += c))
service.stderr.on('data', (c) => (output += c))
const exited = new Promise((resolve) => service.once('exit', (code, signal) => resolve({ code, signal })))
const base = `http://127.0.0.1:${port}`
for (;;) {
  if (service.exitCode !== null) fail(`the service exited at start:\n${output}`)
  if (await fetch(`${base}/ready`).then((r) => r.ok, () => false)) break
  if (Date.now() - started > 120_000) fail(`not ready in 120 s:\n${output}`)
  await sleep(200)
}
log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)

const cli = (...args) => spawnSync('node', ['dist/cli.js', ...args], { cwd: final.dir, env: runEnv, encoding: 'utf8' })
const org = cli('orgs', 'create', 'rehearsal')
if (org.status !== 0) fail(`admin command beside the service: ${org.stderr}`)
const key = cli('keys', 'create', '--org', 'rehearsal', '--privileges', 'analytics:push', '--quiet')
if (key.status !== 0) fail(`admin command beside the service: ${key.stderr}`)
const event = await fetch(`${base}/rest/ua/v15/analytics/custom`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key.stdout.trim()}`, 'content-type': 'application/json' },
  body: JSON.stringify({ language: 'en', eventType: 'rehearsal', eventValue: 'image' }),
})
if (event.status !== 200) fail(`an event with the new key: ${event.status} ${await event.text()}`)
log('admin commands beside the running service: ok; an event with the new key: 200')

if (final.healthcheck) {
  const check = spawnSync(final.healthcheck[0], final.healthcheck.slice(1), { cwd: final.dir, env: runEnv, encoding: 'utf8' })
  if (check.status !== 0) fail(`HEALTHCHECK exited with ${check.status}: ${check.stderr}`)
  log('HEALTHCHECK: passes')
}

service.kill('SIGTERM')
const exit = await exited
if (exit.code !== 0) fail(`SIGTERM: exit ${exit.code ?? exit.signal}\n${output}`)
log('SIGTERM: exit 0')
log('OK')
