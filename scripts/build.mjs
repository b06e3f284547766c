#!/usr/bin/env node
// Compiles src/ to dist/: each TypeScript file transpiled on its own by esbuild, same layout, ES
// modules with source maps. Bundles the dashboard (web/, Preact + uPlot) into dist/web/: one
// minified script and stylesheet with content-hashed names, each also stored gzip- and
// brotli-compressed so the service sends them without compressing per request. Types are not checked here; `npm run typecheck` (tsc) does that, and
// CI runs it. Transpiling takes a fraction of a second where tsc takes seconds, which is why
// `npm start` and `npm run cli` can afford to run this first.
//
//   node scripts/build.mjs                         build now
//   node scripts/build.mjs --if-changed            build only if a source changed since the last build
//   node --import ./scripts/build.mjs dist/cli.js  the same check, then run dist/cli.js in the same
//                                                  process (one Node start instead of two)
//
// The check compares the path, size and modification time of every input with what the last
// build recorded in dist/.build-stamp.json, and loads esbuild only when it must build.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = path.join(root, 'src')
const dist = path.join(root, 'dist')
const stampFile = path.join(dist, '.build-stamp.json')
// Besides the sources: what changes the output (compiler options, this script, esbuild's version).
const extraInputs = ['tsconfig.json', 'scripts/build.mjs', 'node_modules/esbuild/package.json',
  'node_modules/preact/package.json', 'node_modules/uplot/package.json']
const web = path.join(root, 'web')
const webDist = path.join(dist, 'web')

function sources() {
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join('src', f))
    .sort()
}

function webSources() {
  try {
    return readdirSync(web, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(tsx?|css|html)$/.test(f))
      .map((f) => path.join('web', f))
      .sort()
  } catch {
    return []
  }
}

function fingerprint(files) {
  const inputs = {}
  for (const file of files) {
    try {
      const s = statSync(path.join(root, file))
      inputs[file] = `${s.size}:${Math.trunc(s.mtimeMs)}`
    } catch {
      inputs[file] = 'missing'
    }
  }
  return inputs
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8')).inputs
  } catch {
    return null
  }
}

async function compile(files, inputs) {
  const started = performance.now()
  const { build } = await import('esbuild')
  const result = await build({
    absWorkingDir: root,
    entryPoints: files,
    outbase: 'src',
    outdir: 'dist',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    tsconfig: 'tsconfig.json',
    logLevel: 'warning',
    metafile: true,
  })

  // A source that was deleted or renamed must not live on in dist/ (a stale module could still
  // be imported by something else that was not rebuilt).
  const written = new Set(Object.keys(result.metafile.outputs).map((f) => path.join(root, f)))
  for (const file of await bundleWeb(build)) written.add(file)
  for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    const full = path.join(dist, file)
    if (full !== stampFile && !written.has(full) && statSync(full).isFile()) rmSync(full)
  }
  mkdirSync(dist, { recursive: true })
  writeFileSync(stampFile, JSON.stringify({ inputs }) + '\n')
  process.stderr.write(`searchtrack: compiled ${files.length} files and the dashboard to dist/ in ${Math.round(performance.now() - started)} ms\n`)
}

/**
 * The dashboard: web/main.tsx bundled for browsers, its CSS beside it, names hashed by content
 * (so /assets/ can be cached for a year), and index.html pointing at them. Returns the files written.
 */
async function bundleWeb(build) {
  if (!existsSync(path.join(web, 'main.tsx'))) return []
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['web/main.tsx'],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: 'dist/web/assets',
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  })
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.join(root, f))
  const script = outputs.find((f) => f.endsWith('.js'))
  const style = outputs.find((f) => f.endsWith('.css'))
  const asset = (f) => `/assets/${path.basename(f)}`
  const html = readFileSync(path.join(web, 'index.html'), 'utf8')
    .replace('<!--style-->', style ? `<link rel="stylesheet" href="${asset(style)}">` : '')
    .replace('<!--script-->', `<script type="module" src="${asset(script)}"></script>`)
  const page = path.join(webDist, 'index.html')
  writeFileSync(page, html)
  const written = [page]
  for (const file of [...outputs, page]) {
    const body = readFileSync(file)
    writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }))
    writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length } }))
    written.push(file, `${file}.gz`, `${file}.br`)
  }
  return written
}

// Preloaded with --import, this module runs before the program it precedes, which it must not end.
const preloaded = process.argv[1] !== fileURLToPath(import.meta.url)
const ifChanged = preloaded || process.argv.includes('--if-changed')
const files = sources()
const inputs = fingerprint([...files, ...webSources(), ...extraInputs])
if (!ifChanged || JSON.stringify(readStamp()) !== JSON.stringify(inputs)) await compile(files, inputs)
