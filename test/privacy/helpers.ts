import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type pg from 'pg'

/**
 * Every (table, column, count) where a row of the public schema holds one of `needles` in any
 * column, whatever its type (cast to text): a table or column added later is scanned too.
 */
export async function scanDatabase(db: pg.Pool, needles: string[]): Promise<Array<{ table: string; column: string; needle: string; rows: number }>> {
  const { rows: columns } = await db.query<{ table_name: string; column_name: string }>(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
     ORDER BY 1, 2`,
  )
  const found: Array<{ table: string; column: string; needle: string; rows: number }> = []
  for (const { table_name: table, column_name: column } of columns) {
    for (const needle of needles) {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${table}" WHERE strpos("${column}"::text, $1) > 0`,
        [needle],
      )
      if (rows[0]!.n > 0) found.push({ table, column, needle, rows: rows[0]!.n })
    }
  }
  return found
}

/** Files under `dir` (recursively) whose bytes hold one of `needles`. */
export async function scanFiles(dir: string, needles: string[]): Promise<string[]> {
  const hits: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(d, entry.name)
      if (entry.isDirectory()) await walk(full)
      else if (entry.isFile()) {
        const text = (await readFile(full)).toString('latin1')
        for (const needle of needles) if (text.includes(needle)) hits.push(`${full}: ${needle}`)
      }
    }
  }
  await walk(dir)
  return hits
}

/** Number of files under `dir` (recursively). */
export async function countFiles(dir: string): Promise<number> {
  let n = 0
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(path.join(d, entry.name))
      else n++
    }
  }
  await walk(dir)
  return n
}
