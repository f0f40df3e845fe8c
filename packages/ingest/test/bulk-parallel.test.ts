import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFile, listRejections, type ImportOptions, type ImportSummary } from '../src/index.js';
import { actor, fixture, sql, type Fixture, INTERACTIONS_HEADER as HEADER } from './helpers.js';
import { selectRows } from '@clientele/db';

// A bulk CSV import reads its file on several threads, in pieces cut at record boundaries,
// and takes the rows back in file order (bulk-readers.ts). Whatever the pieces, it must store
// the same rows under the same event ids and report the same rejections, at the same lines, as
// the live path reading the file on one thread. PostgreSQL only (the bulk path needs it).

const postgres = Boolean(process.env.DATABASE_URL);

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(async () => {
  await f?.close();
});

/** A file with what makes reading in pieces hard, spread over many pieces. */
function trickyFile(prefix: string): string {
  const out = [HEADER];
  const at = (i: number) => `2024-05-${String(1 + (i % 28)).padStart(2, '0')}T10:${String(i % 60).padStart(2, '0')}:00.${String(i % 1000).padStart(3, '0')}Z`;
  for (let i = 0; i < 3000; i++) {
    const c = `${prefix}c${i % 97}`;
    const item = `${prefix}i${i % 41}`;
    switch (i % 50) {
      case 7: // the same content as line 2 of the file, again and again: one derived id each, numbered in file order
        out.push(`,${prefix}c0,${prefix}i0,view,,,,${at(0)}`);
        break;
      case 11: // an explicit id repeated throughout the file, with the same content each time
        out.push(`${prefix}ev-rep,${c.replace(/\d+$/, '1')},${item.replace(/\d+$/, '1')},click,,,,2024-05-01T00:00:00Z`);
        break;
      case 13: // a quoted id holding the delimiter and a doubled quote, and a CRLF ending
        out.push(`,"${prefix}c,""q""",${item},add_to_cart,,,,${at(i)}\r`);
        break;
      case 17: // a quoted field over two lines (a type no one declared: rejected, at its first line)
        out.push(`,${c},${item},"multi\nline",,,,${at(i)}`);
        break;
      case 19: // rejected: a date in the future, a rating out of range, missing columns
        out.push(`,${c},${item},view,,,,2999-01-01T00:00:00Z`);
        break;
      case 23:
        out.push(`,${c},${item},rating,9,,,${at(i)}`);
        break;
      case 29:
        out.push(`,${c},${item}`);
        break;
      case 31: // longer than the record limit of the import below: skipped and reported
        out.push(`,${c},${item},view,,,,${'x'.repeat(700)}`);
        break;
      case 37: // a blank line: not a row
        out.push('');
        break;
      case 41: // a purchase with amounts
        out.push(`,${c},${item},purchase,,2,19.98,${at(i)}`);
        break;
      default:
        out.push(`,${c},${item},${i % 3 === 0 ? 'view' : 'click'},,,,${at(i)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The file as a stream of small, uneven chunks, so it is cut into many pieces. */
function chunked(text: string): Readable {
  const bytes = Buffer.from(text);
  return Readable.from(
    (function* () {
      let at = 0;
      for (let k = 0; at < bytes.length; k++) {
        const size = 200 + ((k * 7919) % 1800);
        yield bytes.subarray(at, at + size);
        at += size;
      }
    })(),
  );
}

interface StoredRow {
  event_id: string;
  customer: string;
  item: string;
  type: string;
  value: number | null;
  quantity: number | null;
  amount: string | null;
  occurred_at: string;
}

async function rowsOf(jobId: string): Promise<StoredRow[]> {
  return selectRows<StoredRow>(
    f.db.db,
    sql`SELECT i.event_id, c.external_id AS customer, it.external_id AS item, i.type, i.value, i.quantity, i.amount::text AS amount, i.occurred_at::text AS occurred_at
        FROM interactions i JOIN customers c ON c.id = i.customer_id JOIN items it ON it.id = i.item_id
        WHERE i.source = ${`import:${jobId}`} ORDER BY i.event_id`,
  );
}

const counts = (s: ImportSummary) => ({ rowsRead: s.rowsRead, accepted: s.accepted, rejected: s.rejected, rejectionsByCode: s.rejectionsByCode, created: s.interactions.created });

describe.skipIf(!postgres)('bulk import read on several threads', () => {
  it('stores the same rows under the same event ids, and reports the same rejections at the same lines, as the live path', async () => {
    const text = trickyFile('pr-');
    const options = (mode: 'live' | 'bulk'): ImportOptions => ({
      stream: chunked(text),
      fileName: 'tricky.csv',
      kind: 'interactions',
      actor,
      store: f.store,
      mode,
      maxRecordBytes: 512,
      batchSize: 113,
      ...(mode === 'bulk' ? { readerThreads: 3 } : {}),
    });
    const live = await importFile(f.db, options('live'));
    const liveRows = await rowsOf(live.jobId);
    const liveRejections = await listRejections(f.db.db, live.jobId, { first: 10_000 });
    await selectRows(f.db.db, sql`DELETE FROM interactions WHERE source = ${`import:${live.jobId}`} RETURNING 1`);

    const bulk = await importFile(f.db, options('bulk'));
    expect(bulk.mode).toBe('bulk');
    expect(counts(bulk)).toEqual(counts(live));
    expect(live.rejected).toBeGreaterThan(200);
    expect(live.rejectionsByCode).toMatchObject({ RECORD_TOO_LONG: 60, COLUMN_COUNT: 60 });
    expect(await listRejections(f.db.db, bulk.jobId, { first: 10_000 })).toEqual(liveRejections);
    const bulkRows = await rowsOf(bulk.jobId);
    expect(bulkRows).toEqual(liveRows);
    // The repeated content got one id per line, numbered in file order; the repeated explicit id is stored once.
    expect(bulkRows.filter((r) => r.customer === 'pr-c0' && r.item === 'pr-i0' && r.type === 'view').length).toBe(61);
    expect(bulkRows.filter((r) => r.event_id === 'e:pr-ev-rep').length).toBe(1);
    expect(bulkRows.some((r) => r.customer === 'pr-c,"q"')).toBe(true);

    // Read again on threads, in other pieces: nothing new.
    const again = await importFile(f.db, { ...options('bulk'), readerThreads: 2, stream: Readable.from([Buffer.from(text)]) });
    expect(again.interactions.created).toBe(0);
    expect(again.accepted).toBe(bulk.accepted);
  });

  it('reports a header that cannot be read, and an empty file, as on one thread', async () => {
    const options = (text: string): ImportOptions => ({ stream: chunked(text), fileName: 'bad.csv', kind: 'interactions', actor, store: f.store, mode: 'bulk', maxRecordBytes: 90 });
    await expect(importFile(f.db, options(`${'h'.repeat(100)}\n,a,b,view,,,,2024-01-01T00:00:00Z\n`))).rejects.toMatchObject({ reason: 'BAD_HEADER' });
    await expect(importFile(f.db, options('\n\n'))).rejects.toMatchObject({ reason: 'EMPTY_FILE' });
    const bom = await importFile(f.db, { ...options(`\uFEFF\n${HEADER}\n,bom-c,bom-i,view,,,,2024-01-01T00:00:00Z\n`) });
    expect(bom).toMatchObject({ mode: 'bulk', accepted: 1, rejected: 0 });
  });
});
