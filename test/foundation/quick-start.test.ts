import t from 'tap'
import { spawn, execFileSync } from 'node:child_process'
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { freePort, ROOT, stopEmbeddedPostgresIn } from '../helpers/process.js'

/*
 * README.md's quick start, run as a newcomer would: on a fresh copy of the repository, the blocks
 * marked `<!-- quick-start: … -->` in the order they appear, each command's output checked. The
 * blocks are read from the README itself, so the README cannot drift from what works.
 *
 *   install  the install command; not run (the copy links this checkout's node_modules), but it
 *            must be the production install
 *   service  `npm start`, run in a process group of its own (a terminal), left running
 *   shell    each command run in one bash session, in order (variables carry over), beside the
 *            running service; every command needs an expectation below
 *   sql      the SQL run through psql against the database `db url` names
 *   admin    like shell, with `npm run cli --` run as `node dist/cli.js` (what the npm script
 *            runs): the shell blocks have already shown the npm script at work, and on a busy
 *            machine npm's own start-up, paid per command, would take most of the test's time
 *
 * The copy gets its own ports (PORT, EMBEDDED_PG_PORT; the README's 8080 is replaced by the
 * port) and its DATA_DIR is the README's default, `.data` in the copy.
 */

interface Block {
  kind: 'install' | 'service' | 'shell' | 'sql' | 'admin'
  code: string
}

function quickStartBlocks(readme: string): Block[] {
  const blocks: Block[] = []
  const re = /<!-- quick-start: (\w+) -->\n```\w*\n([\s\S]*?)\n```/g
  for (const m of readme.matchAll(re)) blocks.push({ kind: m[1] as Block['kind'], code: m[2]! })
  return blocks
}

/** Commands of a shell block: continuation lines joined, blank lines and comments dropped. */
function commands(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
}

const KEY = /^st_[0-9a-f]{16}_[\w-]{43}$/m

// What each README command must print (stdout), by what the command says.
const EXPECTATIONS: Array<[RegExp, RegExp]> = [
  [/^curl -s http:\/\/127\.0\.0\.1:\d+\/$/, /"service":"searchtrack"/],
  [/cli -- orgs create acme\b/, /^created organization acme$/m],
  [/cli -- orgs create shop\b/, /^created organization shop$/m],
  [/^KEY=\$\(.*keys create --org acme .*--quiet\)$/, /^$/],
  [/^echo "\$KEY"$/, KEY],
  [/analytics\/search/, /^\{"searchEventUid":"[0-9a-f-]{36}","visitId":"[0-9a-f-]{36}","visitorId":"[^"]+","clientId":"[^"]+"\}$/],
  [/^DB=\$\(npm run -s cli -- db url\)$/, /^$/],
  [/^echo "\$DB"$/, /^postgres:\/\/searchtrack:[^@\s]+@127\.0\.0\.1:\d+\/postgres$/],
  [/^psql "\$DB" -c '\\dt'$/, /events\s+\| partitioned table/],
  [/cli -- orgs list$/, /^acme\tAcme Inc\t/m],
  [/cli -- keys create --org shop .*--name web$/, /^created key [0-9a-f]{16} for shop \(analytics:push, impersonate\)/m],
  [/cli -- keys list --org shop$/, /^[0-9a-f]{16}\tweb\tanalytics:push,impersonate\tactive$/m],
  [/cli -- tokens sign /, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/m],
  [/cli -- inbenta priorities set --org shop --key MY_CUSTOM_KEY --priority 5$/, /^shop: MY_CUSTOM_KEY has priority 5$/m],
  [/cli -- inbenta priorities list --org shop$/, /^MY_CUSTOM_KEY\t5\tcustom$/m],
  [/cli -- audit list --org shop$/, /^\{"id":"\d+","at":"[^"]+","actor":"cli:[^"]+","orgId":"shop","action":"inbenta\.priority\.set"/m],
  [/cli -- migrate$/, /^database is up to date$/m],
  [/cli -- help$/, /^usage: npm run cli -- <command>/m],
]

/** The files of a fresh clone, copied; node_modules linked rather than installed again. */
async function freshCopy(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'searchtrack-quick-start-'))
  // The embedded cluster runs as the `postgres` user when we are root: it must enter the dir.
  await chmod(dir, 0o755)
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(path.join(ROOT, f)))
  for (const file of files) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true })
    await cp(path.join(ROOT, file), path.join(dir, file))
  }
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  return dir
}

t.test('the README quick start, pasted in order on a fresh copy, works', async (t) => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
  const blocks = quickStartBlocks(readme)
  t.same([...new Set(blocks.map((b) => b.kind))].sort(), ['admin', 'install', 'service', 'shell', 'sql'], 'the README marks its quick-start blocks')

  let service: ReturnType<typeof spawn> | undefined
  let serviceExited: Promise<unknown> = Promise.resolve()
  let serviceGone = false
  let serviceOutput = ''
  const dir = await freshCopy()
  t.teardown(async () => {
    if (service && !serviceGone) process.kill(-service.pid!, 'SIGKILL')
    await stopEmbeddedPostgresIn(path.join(dir, '.data'))
    await rm(dir, { recursive: true, force: true })
  })
  t.notOk(existsSync(path.join(dir, 'dist')), 'nothing built yet')
  const port = await freePort()
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    EMBEDDED_PG_PORT: String(await freePort()),
    DATABASE_URL: '',
    DATA_DIR: '',
    LOG_LEVEL: 'info',
  }
  // Settings the README does not give are the defaults, as for a newcomer.
  for (const name of ['DATA_DIR', 'DATABASE_URL', 'HOST', 'BOOTSTRAP_DEFAULT_ORG', 'TEST_DATABASE_URL']) delete env[name]
  const localize = (command: string) => command.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)

  const script: string[] = ['set -u']
  const steps: Array<{ command: string; expect?: RegExp }> = []
  let sqlFiles = 0

  for (const block of blocks) {
    if (block.kind === 'install') {
      t.same(commands(block.code), ['npm ci --omit=dev'], 'the install is the production one (here: node_modules is linked)')
    } else if (block.kind === 'service') {
      t.same(commands(block.code), ['npm start'])
      service = spawn('bash', ['-c', 'npm start'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      service.stdout!.on('data', (c) => (serviceOutput += c))
      service.stderr!.on('data', (c) => (serviceOutput += c))
      serviceExited = new Promise((resolve) => service!.once('exit', () => resolve((serviceGone = true))))
      const started = Date.now()
      while (!(await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false))) {
        if (serviceGone) throw new Error(`npm start exited:\n${serviceOutput}`)
        if (Date.now() - started > 120_000) throw new Error(`npm start: not ready in 120 s:\n${serviceOutput}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    } else if (block.kind === 'shell' || block.kind === 'admin') {
      for (const command of commands(block.code)) {
        const expectation = EXPECTATIONS.find(([pattern]) => pattern.test(command))
        t.ok(expectation, `the test knows what \`${command}\` should print`)
        const run = block.kind === 'admin' ? command.replace(/^npm run (-s )?cli --/, 'node dist/cli.js') : command
        if (block.kind === 'admin') t.not(run, command, `\`${command}\` is an admin command`)
        steps.push({ command: run, expect: expectation?.[1] })
      }
    } else {
      const file = path.join(dir, `.quick-start-${++sqlFiles}.sql`)
      await writeFile(file, block.code)
      // $DB: the README's own lookup of the database URL, in the block before.
      steps.push({ command: `psql "$DB" -v ON_ERROR_STOP=1 -f ${file}`, expect: /hello world[\s\S]*acme\s+\|\s+\d{4}-\d\d-\d\d\s+\|\s+1\b/ })
    }
  }

  // One bash session for every command (KEY carries over), each framed by markers on both streams.
  steps.forEach((step, i) => {
    script.push(`echo "@@begin ${i}"; echo "@@begin ${i}" >&2; started=$(date +%s%3N)`)
    script.push(localize(step.command))
    script.push(`echo "@@end ${i} $? $(( $(date +%s%3N) - started ))"; echo "@@end ${i}" >&2`)
  })
  const run = spawn('bash', ['--noprofile', '--norc', '-c', script.join('\n')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  run.stdout.on('data', (c) => (stdout += c))
  run.stderr.on('data', (c) => (stderr += c))
  await new Promise((resolve) => run.on('close', resolve))

  steps.forEach((step, i) => {
    const out = new RegExp(`@@begin ${i}\\n([\\s\\S]*?)\\n?@@end ${i} (\\d+) (\\d+)`).exec(stdout)
    const err = new RegExp(`@@begin ${i}\\n([\\s\\S]*?)@@end ${i}\\n`).exec(stderr)?.[1] ?? ''
    t.ok(out, `\`${step.command}\` ran`)
    if (!out) return
    t.comment(`${out[3]} ms: ${step.command}`)
    t.equal(out[2], '0', `\`${step.command}\` succeeds${err ? `: ${err}` : ''}`)
    if (step.expect) t.match(out[1], step.expect, `\`${step.command}\` prints what the README says`)
    t.notMatch(err, /compiled \d+ files/, `\`${step.command}\` does not compile again`)
  })

  t.match(serviceOutput, /compiled \d+ files and the dashboard to dist\//, 'npm start compiled the fresh copy, the dashboard too')
  t.match(serviceOutput, /it is the key to give your search pages:\n\n\s+st_/, 'the first start printed a push key')
  t.match(serviceOutput, new RegExp(`The dashboard is at http://127\\.0\\.0\\.1:${port}/ [^]*\\n\\n\\s+st_`), 'and a dashboard key, with the address')
  t.match(serviceOutput, new RegExp(`searchtrack: ready at http://127\\.0\\.0\\.1:${port}`))

  // Ctrl-C in the service's terminal.
  process.kill(-service!.pid!, 'SIGINT')
  await serviceExited
  t.match(serviceOutput, /"signal":"SIGINT","msg":"shutting down"/)
  t.notMatch(serviceOutput, /"level":50/, 'no error logged, from the first start to the stop')
  t.notOk(existsSync(path.join(dir, '.data', 'pg', 'postmaster.pid')), 'the embedded database was stopped')
})
