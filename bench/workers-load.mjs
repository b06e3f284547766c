#!/usr/bin/env node
// The load of `bench/workers.mjs`, in a process of its own so that it can be pinned to one core
// with taskset: Coveo v15 searches, one event a request, visitors cycling over 5,000, at maximum
// rate for <seconds>. Prints one JSON line: requests, rate, latency percentiles, non-2xx.
//   node bench/workers-load.mjs <base url> <key> <seconds> <connections>
import autocannon from 'autocannon'

const [base, key, seconds, connections] = process.argv.slice(2)
const body = JSON.stringify({
  language: 'en',
  queryText: 'wireless headphones',
  actionCause: 'searchboxSubmit',
  responseTime: 87,
  searchQueryUid: '8c4c5f0e-6a1e-4c0b-9a49-4f8f1d3c1a2b',
  numberOfResults: 120,
  originLevel1: 'default',
})
let visitor = 0
const result = await autocannon({
  url: base,
  connections: Number(connections),
  duration: Number(seconds),
  requests: [
    {
      method: 'POST',
      setupRequest: (request) => ({ ...request, path: `/rest/ua/v15/analytics/search?visitor=v${visitor++ % 5000}` }),
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      },
      body,
    },
  ],
})
process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }) + '\n',
)
