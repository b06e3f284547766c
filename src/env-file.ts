import { existsSync } from 'node:fs'
import { ConfigError } from './config.js'

/**
 * Read `.env` from the working directory into process.env, if there is one (Node's own parser,
 * the format .env.example shows). A variable already in the environment wins over the file, even
 * when it is empty, so `PORT=9000 npm start` overrides what the file says. Returns the file read.
 */
export function loadEnvFile(file = '.env'): string | null {
  if (!existsSync(file)) return null
  try {
    process.loadEnvFile(file)
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  return file
}
