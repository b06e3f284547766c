import t from 'tap'
import { spawn } from 'node:child_process'
import { ROOT } from '../helpers/process.js'

// A shorter run of the fuzz in scripts/long-runs.mjs (the long run sends 10,000): malformed and
// mutated requests over every route in openapi.yaml against the built service; it fails on any
// 5xx, a dead service, or an error body not in its protocol's shape.
t.test('fuzz: no 5xx, every error in its protocol shape', async (t) => {
  const child = spawn(process.execPath, ['scripts/long-runs.mjs', 'fuzz'], {
    cwd: ROOT,
    env: { ...process.env, FUZZ_REQUESTS: '2000', SKIP_BUILD: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.match(output, /fuzz: 2000 requests in/, 'the fuzz ran')
  t.match(output, /fuzz: 0 problems → PASS/, output.split('\n').filter((l) => l.includes('problem')).slice(0, 5).join('\n'))
  t.equal(code, 0)
})
