import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportError, getImportJob, importFile, listRejections, writeRejectionReport, type ImportOptions, type ImportSummary } from '../src/index.js';
import { actor, count, fixture, sql, type Fixture, INTERACTIONS_HEADER as HEADER } from './helpers.js';

// Every kind of bad input named in the issue: each row gets a specific reason with its line and
// column, file-level mistakes stop the import before anything is written, nothing crashes.


let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(async () => {
  await f?.close();
});

function run(name: string, content: string | Buffer, options: Partial<ImportOptions> = {}): Promise<ImportSummary> {
  return importFile(f.db, { path: f.file(name, content), kind: 'interactions', actor, store: f.store, ...options });
}

async function fileError(name: string, content: string | Buffer, options: Partial<ImportOptions> = {}): Promise<ImportError> {
  const error: unknown = await run(name, content, options).catch((e: unknown) => e);
  if (!(error instanceof ImportError)) throw new Error(`expected an ImportError, got ${String(error)}`);
  return error;
}

const stored = (jobId: string) => count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE source = ${`import:${jobId}`}`);

describe('rows with bad values are rejected with line, column and a specific reason', () => {
  it('an unparsable date, as in the issue', async () => {
    const s = await run('interactions.csv', `${HEADER}\n,c1,i1,view,,,,2024-01-01T00:00:00Z\n,c1,i1,view,,,,yesterday\n`);
    expect(s).toMatchObject({ rowsRead: 2, accepted: 1, rejected: 1 });
    const [r] = await listRejections(f.db.db, s.jobId);
    expect(r).toEqual({
      line: 3,
      column: 'occurred_at',
      code: 'INVALID_DATE',
      reason: "interactions.csv line 3, column occurred_at: expected an ISO-8601 date, got 'yesterday'",
    });
    expect(await stored(s.jobId)).toBe(1);
  });

  it('impossible and future dates, non-numeric values, unknown types, a rating off the scale', async () => {
    const tomorrowPlus = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const s = await run(
      'values.csv',
      [
        HEADER,
        ',c2,i2,view,,,,2024-02-30T10:00:00Z',
        `,c2,i2,view,,,,${tomorrowPlus}`,
        ',c2,i2,purchase,,two,10,2024-03-01T10:00:00Z',
        ',c2,i2,purchase,,1,ten,2024-03-01T10:00:00Z',
        ',c2,i2,like,,,,2024-03-01T10:00:00Z',
        ',c2,i2,rating,7,,,2024-03-01T10:00:00Z',
        ',c2,i2,purchase,,1.5,3,2024-03-01T10:00:00Z',
        ',,i2,view,,,,2024-03-01T10:00:00Z',
        ',c2,i2,view,,,,2024-03-01',
      ].join('\n'),
    );
    expect(s).toMatchObject({ rowsRead: 9, accepted: 1, rejected: 8 });
    const rejections = await listRejections(f.db.db, s.jobId);
    expect(rejections.map((r) => [r.line, r.column, r.code])).toEqual([
      [2, 'occurred_at', 'INVALID_DATE'],
      [3, 'occurred_at', 'FUTURE_DATE'],
      [4, 'quantity', 'INVALID_NUMBER'],
      [5, 'amount', 'INVALID_NUMBER'],
      [6, 'type', 'UNKNOWN_TYPE'],
      [7, 'value', 'OUT_OF_RANGE'],
      [8, 'quantity', 'INVALID_VALUE'],
      [9, 'customer_id', 'MISSING_CUSTOMER_ID'],
    ]);
    const reasons = rejections.map((r) => r.reason);
    expect(reasons[0]).toBe("values.csv line 2, column occurred_at: expected a real date and time, got '2024-02-30T10:00:00Z'");
    expect(reasons[1]).toMatch(/^values\.csv line 3, column occurred_at: expected a date no later than tomorrow, got '/);
    expect(reasons[2]).toBe("values.csv line 4, column quantity: expected a number, got 'two'");
    expect(reasons[4]).toBe("values.csv line 6, column type: expected one of view, click, add_to_cart, purchase, rating, wishlist, got \"like\"");
    expect(reasons[5]).toBe('values.csv line 7, column value: expected a rating from 0.5 to 5, got 7');
  });

  it('missing and extra columns in a row (trailing empty cells are tolerated)', async () => {
    const s = await run(
      'columns.csv',
      `${HEADER}\n,c3,i3,view,,,\n,c3,i3,view,,,,2024-01-01T00:00:00Z,extra\n,c3,i3,view,,,,2024-01-01T00:00:01Z,,\n`,
    );
    expect(s).toMatchObject({ rowsRead: 3, accepted: 1, rejected: 2 });
    const rejections = await listRejections(f.db.db, s.jobId);
    expect(rejections.map((r) => r.reason)).toEqual([
      'columns.csv line 2: expected 8 columns as in the header, got 7 (missing columns)',
      'columns.csv line 3: expected 8 columns as in the header, got 9 (extra columns)',
    ]);
  });

  it('a BOM, CRLF line ends and quoted fields with newlines, commas and quotes', async () => {
    const s = await run(
      'crlf.csv',
      `\uFEFF${HEADER}\r\n"ev-1","c,4","i ""4""",view,,,,2024-01-01T00:00:00Z\r\n"ev-2","c\r\n4",i4,view,,,,2024-01-01T00:00:00Z\r\n,c4,i4,nope,,,,2024-01-01\r\n`,
    );
    expect(s).toMatchObject({ rowsRead: 3, accepted: 2, rejected: 1 });
    const [r] = await listRejections(f.db.db, s.jobId);
    // The third row starts on line 5: the quoted newline of the second row counts as a line.
    expect(r?.line).toBe(5);
    const ids = await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id IN ('c,4', ${'c\r\n4'})`);
    expect(ids).toBe(2);
    const item = await count(f.db, sql`SELECT count(*) AS n FROM items WHERE external_id = 'i "4"'`);
    expect(item).toBe(1);
  });

  it('a 10 MB single line is rejected as one row; the rows around it are imported', async () => {
    const big = `,c5,${'x'.repeat(10 * 1024 * 1024)},view,,,,2024-01-01T00:00:00Z`;
    const s = await run('big.csv', `${HEADER}\n,c5,i5,view,,,,2024-01-01T00:00:00Z\n${big}\n,c5,i5,click,,,,2024-01-01T00:00:00Z\n`);
    expect(s).toMatchObject({ rowsRead: 3, accepted: 2, rejected: 1 });
    const [r] = await listRejections(f.db.db, s.jobId);
    expect(r).toMatchObject({ line: 3, column: null, code: 'RECORD_TOO_LONG' });
    expect(r?.reason).toMatch(/^big\.csv line 3: expected a row of at most the record size limit, got 10,485,[0-9]{3} bytes; the row was skipped$/);
  });

  it('a row that is not UTF-8 is rejected with the byte; a UTF-16 file is refused', async () => {
    const latin1 = Buffer.concat([Buffer.from(`${HEADER}\n,caf`), Buffer.from([0xe9]), Buffer.from(',i6,view,,,,2024-01-01T00:00:00Z\n,c6,i6,view,,,,2024-01-01T00:00:00Z\n')]);
    const s = await run('latin1.csv', latin1);
    expect(s).toMatchObject({ rowsRead: 2, accepted: 1, rejected: 1 });
    const [r] = await listRejections(f.db.db, s.jobId);
    expect(r).toMatchObject({
      line: 2,
      column: 'customer_id',
      code: 'INVALID_UTF8',
      reason: 'latin1.csv line 2, column customer_id: expected UTF-8 text, got byte 0xE9 that is not UTF-8 (save the file as UTF-8)',
    });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${HEADER}\n`, 'utf16le')]);
    const error = await fileError('utf16.csv', utf16);
    expect(error.reason).toBe('UNSUPPORTED_ENCODING');
    expect(error.message).toBe('utf16.csv: the file is UTF-16 (it starts with a UTF-16 byte order mark); expected UTF-8, so save it as UTF-8');
    const bare = await fileError('utf16-no-bom.csv', Buffer.from(`${HEADER}\n`, 'utf16le'));
    expect(bare.message).toMatch(/^utf16-no-bom\.csv line 1: the file contains NUL bytes; expected UTF-8 text/);
  });

  it('an unclosed quote rejects the rest of the file as one row', async () => {
    const s = await run('quote.csv', `${HEADER}\n,c7,i7,view,,,,2024-01-01T00:00:00Z\n,"c7,i7,view,,,,2024-01-01T00:00:00Z\n,c7,i7,view,,,,2024-01-01T00:00:00Z\n`);
    expect(s).toMatchObject({ rowsRead: 2, accepted: 1, rejected: 1 });
    const [r] = await listRejections(f.db.db, s.jobId);
    expect(r?.reason).toBe('quote.csv line 3, column customer_id: expected a closing quote, got the end of the file (a quoted field is never closed)');
  });

  it('negative prices of items', async () => {
    const s = await importFile(f.db, {
      path: f.file('items.csv', 'id,title,categories,price,currency,in_stock\nsku-1,Lamp,home|light,20,GBP,yes\nsku-2,Mug,kitchen,-5,GBP,no\nsku-3,Cup,kitchen,abc,GBP,\nsku-4,Pan,,3,GBP,maybe\n'),
      kind: 'items',
      actor,
      store: f.store,
    });
    expect(s).toMatchObject({ rowsRead: 4, accepted: 1, rejected: 3 });
    expect((await listRejections(f.db.db, s.jobId)).map((r) => r.reason)).toEqual([
      'items.csv line 3, column price: expected a price of zero or more, got -5',
      "items.csv line 4, column price: expected a number, got 'abc'",
      "items.csv line 5, column in_stock: expected true or false (or yes/no, 1/0), got 'maybe'",
    ]);
  });

  it('rules of the domain: a bad email is rejected on its line and column', async () => {
    const s = await importFile(f.db, {
      path: f.file('customers.csv', 'id,email,name,country,attributes\nk1,ok@example.com,Ok,GB,\nk2,not-an-email,Bad,GB,\nk3,,Bad JSON,GB,{tier:gold}\nk4,,Bad country,Britain,\n'),
      kind: 'customers',
      actor,
      store: f.store,
    });
    expect(s).toMatchObject({ rowsRead: 4, accepted: 1, rejected: 3 });
    expect((await listRejections(f.db.db, s.jobId)).map((r) => [r.line, r.column, r.code])).toEqual([
      [3, 'email', 'INVALID_VALUE'],
      [4, 'attributes', 'INVALID_JSON'],
      [5, 'country', 'INVALID_VALUE'],
    ]);
    const [email] = await listRejections(f.db.db, s.jobId);
    expect(email?.reason).toBe("customers.csv line 3, column email: expected an address like name@example.com, got 'not-an-email'");
  });

  it('NDJSON: lines that are not JSON, not objects, or lack a required property', async () => {
    const s = await importFile(f.db, {
      path: f.file(
        'events.ndjson',
        [
          '{"customer_id":"c8","item_id":"i8","type":"view","occurred_at":"2024-01-01T00:00:00Z"}',
          '{"customer_id":"c8","item_id":"i8","type":"view",',
          '[1,2]',
          '',
          '{"customer_id":"c8","type":"view","occurred_at":"2024-01-01T00:00:00Z"}',
          '{"customer_id":12,"item_id":"i8","type":"purchase","quantity":2,"amount":"9.5","occurred_at":1704067200}',
        ].join('\n'),
      ),
      kind: 'interactions',
      actor,
      store: f.store,
    });
    expect(s).toMatchObject({ rowsRead: 5, accepted: 2, rejected: 3 });
    expect((await listRejections(f.db.db, s.jobId)).map((r) => [r.line, r.code])).toEqual([
      [2, 'INVALID_JSON'],
      [3, 'NOT_AN_OBJECT'],
      [5, 'MISSING_FIELD'],
    ]);
  });

  it('unknown customers and items are rejected when asked, or created as stubs', async () => {
    const content = `${HEADER}\n,ghost,i9,view,,,,2024-01-01T00:00:00Z\n,c9,ghost-item,view,,,,2024-01-01T00:00:00Z\n`;
    await importFile(f.db, { path: f.file('known.csv', `${HEADER}\n,c9,i9,view,,,,2024-01-01T00:00:00Z\n`), kind: 'interactions', actor, store: f.store });
    const rejected = await run('unknown.csv', content, { unknownReferences: 'reject' });
    expect(rejected).toMatchObject({ rowsRead: 2, accepted: 0, rejected: 2 });
    expect((await listRejections(f.db.db, rejected.jobId)).map((r) => [r.line, r.column, r.code, r.reason])).toEqual([
      [2, 'customer_id', 'UNKNOWN_CUSTOMER', "unknown.csv line 2, column customer_id: no customer 'ghost' (import the customers first, or use unknownReferences 'create')"],
      [3, 'item_id', 'UNKNOWN_ITEM', "unknown.csv line 3, column item_id: no item 'ghost-item' (import the items first, or use unknownReferences 'create')"],
    ]);
    const created = await run('unknown.csv', content);
    expect(created).toMatchObject({ accepted: 2, stubs: { customers: 1, items: 1 } });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM items WHERE external_id = 'ghost-item' AND title = 'ghost-item' AND attributes @> '{"stub": true}'`)).toBe(1);
  });

  it('stores at most the cap of rejections, counts them all, and writes them all to a CSV report', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => `,c10,i10,view,,,,not-a-date-${i}`);
    const report = path.join(f.dir, 'rejections.csv');
    const s = await run('many.csv', `${HEADER}\n${lines.join('\n')}\n`, { maxStoredRejections: 10, rejectionsPath: report });
    expect(s).toMatchObject({ rowsRead: 25, rejected: 25, storedRejections: 10, rejectionsByCode: { INVALID_DATE: 25 } });
    expect(await listRejections(f.db.db, s.jobId, { first: 100 })).toHaveLength(10);
    const all = readFileSync(report, 'utf8').trim().split('\n');
    expect(all).toHaveLength(26);
    expect(all[0]).toBe('line,column,code,reason');
    expect(all[1]).toBe("2,occurred_at,INVALID_DATE,\"many.csv line 2, column occurred_at: expected an ISO-8601 date, got 'not-a-date-0'\"");
    const out = path.join(f.dir, 'stored.csv');
    expect(await writeRejectionReport(f.db.db, s.jobId, out)).toBe(10);
    expect(readFileSync(out, 'utf8').split('\n')[1]).toBe(all[1]);
    const job = await getImportJob(f.db.db, s.jobId);
    expect(job).toMatchObject({ status: 'completed', rowsRead: 25, accepted: 0, rejected: 25, progress: { stage: 'done' } });
  });
});

describe('mistakes in the whole file stop the import before anything is written', () => {
  it('an empty file, or one with only a BOM and blank lines', async () => {
    for (const [name, content] of [
      ['empty.csv', ''],
      ['blank.csv', '\uFEFF\r\n\n'],
      ['empty.ndjson', '\n \n'],
    ] as const) {
      const error = await fileError(name, content);
      expect(error.reason).toBe('EMPTY_FILE');
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(new RegExp(`^${name.replace('.', '\\.')}: the file is empty; expected `));
      const job = await getImportJob(f.db.db, error.jobId ?? '');
      expect(job?.status).toBe('failed');
    }
  });

  it('duplicate header names, naming them', async () => {
    const error = await fileError('dups.csv', 'customer_id,item_id,type,occurred_at,Type,customer_id\n');
    expect(error.reason).toBe('DUPLICATE_HEADERS');
    expect(error.message).toBe(
      "dups.csv line 1: the header names a column more than once: 'customer_id' (columns 1 and 6), 'type' (columns 3 and 5); expected each column name once",
    );
  });

  it('required columns missing from the header', async () => {
    const error = await fileError('missing.csv', 'customer_id,type\nc,view\n');
    expect(error.reason).toBe('MISSING_COLUMNS');
    expect(error.message).toBe(
      "missing.csv line 1: expected the columns item_id, occurred_at for interactions, got a header with 'customer_id', 'type' (map other names with a column mapping)",
    );
  });

  it('a mapping naming a column the file does not have, or a field the kind does not have', async () => {
    const unknown = await fileError('map.csv', `${HEADER}\n`, { mapping: { occurred_at: 'ts' } });
    expect(unknown.reason).toBe('UNKNOWN_COLUMN');
    expect(unknown.message).toMatch(/^map\.csv: the mapping takes occurred_at from column 'ts', but the header has no such column/);
    const field = await fileError('map.csv', `${HEADER}\n`, { mapping: { when: 'ts' } });
    expect(field.reason).toBe('BAD_OPTION');
    expect(field.message).toBe("mapping: 'when' is not a field of interactions; expected one of event_id, customer_id, item_id, type, value, quantity, amount, occurred_at");
  });

  it('a missing file, an unknown extension', async () => {
    const missing: unknown = await importFile(f.db, { path: path.join(f.dir, 'nope.csv'), kind: 'items', actor, store: f.store }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ImportError);
    expect(missing).toMatchObject({ reason: 'FILE_NOT_FOUND', code: 'NOT_FOUND' });
    const ext = await fileError('data.xlsx', 'x');
    expect(ext.message).toBe("data.xlsx: cannot tell the format from the extension '.xlsx'; expected .csv, .tsv, .ndjson or .jsonl, or give the format (csv or ndjson)");
  });
});

describe('column mappings', () => {
  it('maps other column names and constants (e.g. MovieLens ratings)', async () => {
    const s = await run('ratings.csv', 'userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n', {
      mapping: { customer_id: 'userId', item_id: 'movieId', value: 'rating', occurred_at: 'timestamp', type: { constant: 'rating' } },
    });
    expect(s).toMatchObject({ rowsRead: 2, accepted: 2, rejected: 0 });
    const rows = await count(
      f.db,
      sql`SELECT count(*) AS n FROM interactions WHERE source = ${`import:${s.jobId}`} AND type = 'rating' AND occurred_at = '2009-12-14T02:52:24Z'::timestamptz AND value = 2.5`,
    );
    expect(rows).toBe(1);
  });
});
