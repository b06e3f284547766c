#!/usr/bin/env node
// PNGs of every dashboard view at 1280 and 390 px (and a few in the dark theme) over a made-up
// month of searches: screenshots/ (not versioned) and docs/images/overview.png (the README's).
// Runs through the test runner, which builds the service and starts a throwaway PostgreSQL.
//
//   npm run screenshots
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const child = spawn(process.execPath, [path.join(root, 'test/run.mjs'), 'test/dashboard/screenshots.ts', '--disable-coverage', '--reporter=terse'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SCREENSHOT_DIR: process.env.SCREENSHOT_DIR ?? path.join(root, 'screenshots') },
})
child.on('exit', (code) => process.exit(code ?? 1))
