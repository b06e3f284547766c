import { setFlagsFromString } from 'node:v8'

/**
 * When full collections are cheap, V8 lets the old generation grow to about 4 times the live
 * heap before the next one. The service's live heap is ~30 MB, so the process sat at 200+ MB of
 * promoted garbage after a minute of load. Growing by half the live heap instead holds it near
 * 150 MB for a full collection every few seconds (3-17 ms pauses, the marking mostly concurrent;
 * BENCHMARKS.md). V8 reads the flag whenever it sets the next limit, so setting it once the
 * process runs takes effect. Called by the process entry, not by the app plugin: a process
 * embedding the app keeps its own settings.
 */
export function limitHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=50')
}
