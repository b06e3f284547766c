// Types for throwaway-postgres.mjs, which the TypeScript tests import too.
export function freePort(): Promise<number>

export interface ThrowawayPostgres {
  url: string
  dir: string
  stop(): Promise<void>
  start(): Promise<void>
  remove(): Promise<void>
}

export function startThrowawayPostgres(options?: { prefix?: string; parentDir?: string; flags?: string[] }): Promise<ThrowawayPostgres>
