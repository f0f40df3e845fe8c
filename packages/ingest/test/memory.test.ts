import { createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { importFile } from '../src/index.js';
import { actor, fixture, type Fixture } from './helpers.js';

// Memory stays flat whatever the file's size: the heap that survives a full collection is
// measured every few batches of a 200,000-line file (about 40 MB, so holding it would show)
// and may neither grow from the first batches to the last nor come near the file's size.
//
// The rows name customers that do not exist and the import rejects them (unknownReferences
// 'reject'): every row is still read, checked, given an event id, staged with COPY and looked
// up by the database, but the test does not spend its time building indexes for 200,000 rows,
// which is work inside the database, not in this process's heap.

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(async () => {
  await f?.close();
});

function collector(): () => void {
  const exposed: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return () => void exposed();
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('cannot force a garbage collection');
  return () => void gc();
}

it('keeps the retained heap flat over a 200,000-line import', async () => {
  const file = f.file('large.csv', '');
  const out = createWriteStream(file);
  out.write('event_id,customer_id,item_id,type,value,quantity,amount,occurred_at\n');
  for (let i = 0; i < 200_000; i++) {
    const line = `,missing-customer-${i % 5000}-${'c'.repeat(60)},item-${i % 997}-${'p'.repeat(60)},purchase,,${1 + (i % 3)},${(i % 100) + 0.99},2024-0${1 + (i % 9)}-1${i % 10}T10:${String(i % 60).padStart(2, '0')}:00Z\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const size = statSync(file).size;
  expect(size).toBeGreaterThan(36_000_000);

  const gc = collector();
  const retained: number[] = [];
  let batches = 0;
  gc();
  const before = process.memoryUsage().heapUsed;
  const summary = await importFile(f.db, {
    path: file,
    kind: 'interactions',
    actor,
    store: f.store,
    unknownReferences: 'reject',
    batchSize: 5_000,
    onProgress: (p) => {
      if (p.stage !== 'interactions' || ++batches % 4 !== 0) return;
      gc();
      retained.push(process.memoryUsage().heapUsed);
    },
  });
  expect(summary).toMatchObject({ rowsRead: 200_000, rejected: 200_000, storedRejections: 10_000, rejectionsByCode: { UNKNOWN_CUSTOMER: 200_000 } });
  expect(retained.length).toBeGreaterThanOrEqual(8);
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  const early = Math.max(...retained.slice(0, 3));
  const late = Math.max(...retained.slice(-3));
  console.log(`retained heap: ${mib(before)} MiB before, ${mib(early)} MiB early on, ${mib(late)} MiB at the end (file ${mib(size)} MiB)`);
  // Flat: what the last batches hold is what the first ones held, give or take a few MiB
  // (the duplicate detector grows by about 1.2 bytes a row: 0.25 MiB here) ...
  expect(late - early).toBeLessThan(8 * 2 ** 20);
  // ... and far from the file's size: batches in flight, not the file, are what is held.
  expect(late - before).toBeLessThan(size / 2);
});
