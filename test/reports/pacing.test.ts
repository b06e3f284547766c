import t from 'tap'
import { restAfter } from '../../src/reports/maintenance/worker.js'

// The worker's rest after a busy step: its usual share while ingest leaves the service room, a
// longer one while ingest keeps the event loop busy (it yields to a peak and catches up after).
t.test('the maintenance rests longer while ingest keeps the service busy', async (t) => {
  const options = { restRatio: 0.5, busyRestRatio: 4 }
  t.equal(restAfter(200, 0.1, options), 100, 'an idle service: half the step')
  t.equal(restAfter(200, 0.69, options), 100, 'below the peak (ingest at half its maximum uses about 0.4)')
  t.equal(restAfter(200, 0.7, options), 800, 'at the peak: four times the step')
  t.equal(restAfter(200, 1, options), 800)
  t.equal(restAfter(200, 1, { restRatio: 0.5, busyRestRatio: 0.5 }), 100, 'REPORTS_BUSY_REST_RATIO=0.5 turns it off')
})
