/** A steady load of real HTTP requests against one route, recording every answer. */
export interface LoadResult {
  acked: string[]
  visits: Map<string, string | null>
  statuses: Map<number, number>
  failures: Array<{ status: number; body: string; headers: Record<string, string> }>
  networkErrors: number
}

export interface Load {
  result: LoadResult
  /** Resolves once at least `n` more events than now have been acknowledged. */
  ackedMore(n: number): Promise<void>
  stop(): Promise<LoadResult>
}

export function startLoad(
  url: string,
  options: { workers?: number; org: string; visitorsPerRequest?: number; headers?: Record<string, string> },
): Load {
  const result: LoadResult = { acked: [], visits: new Map(), statuses: new Map(), failures: [], networkErrors: 0 }
  let running = true
  const waiters: Array<{ target: number; resolve: () => void }> = []
  const notify = () => {
    for (const w of waiters.splice(0)) {
      if (result.acked.length >= w.target) w.resolve()
      else waiters.push(w)
    }
  }
  let seq = 0
  const worker = async () => {
    while (running) {
      const visitors = Array.from({ length: options.visitorsPerRequest ?? 3 }, () => `visitor-${seq++ % 97}`)
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...options.headers },
          body: JSON.stringify({ org: options.org, visitors }),
        })
        const text = await response.text()
        result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1)
        if (response.status === 200) {
          const body = JSON.parse(text) as { eventIds: string[]; visitIds: Array<string | null> }
          body.eventIds.forEach((id, i) => result.visits.set(id, body.visitIds[i] ?? null))
          result.acked.push(...body.eventIds)
          notify()
        } else {
          result.failures.push({ status: response.status, body: text, headers: Object.fromEntries(response.headers) })
        }
      } catch {
        // The process was killed or stopped listening: the request was never acknowledged.
        result.networkErrors++
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
  }
  const workers = Array.from({ length: options.workers ?? 8 }, worker)
  return {
    result,
    ackedMore: (n) => new Promise<void>((resolve) => {
      waiters.push({ target: result.acked.length + n, resolve })
      notify()
    }),
    stop: async () => {
      running = false
      await Promise.all(workers)
      return result
    },
  }
}

/** Poll a condition (a state outside this process's control, e.g. a database coming back). */
export async function until(condition: () => boolean | Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
