import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getImportJob, importFile, listImportJobs, type ImportProgress } from '../src/index.js';
import { actor, count, fixture, sql, type Fixture, INTERACTIONS_HEADER as HEADER } from './helpers.js';


let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(async () => {
  await f?.close();
});

/** n interaction lines for customers/items with the given prefix; every 10th line repeats the one before. */
function interactions(prefix: string, n: number): string {
  const lines = [HEADER];
  for (let i = 0; i < n; i++) {
    const k = i % 10 === 9 ? i - 1 : i;
    const type = ['view', 'click', 'purchase', 'rating'][k % 4];
    const extra = type === 'purchase' ? ',2,19.98' : type === 'rating' ? `${1 + (k % 5)},,` : ',,';
    lines.push(`,${prefix}c${k % 37},${prefix}i${k % 23},${type},${extra},2024-01-01T00:${String(Math.floor(k / 60) % 60).padStart(2, '0')}:${String(k % 60).padStart(2, '0')}Z`);
  }
  return `${lines.join('\n')}\n`;
}

const total = (prefix: string) =>
  count(f.db, sql`SELECT count(*) AS n FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.external_id LIKE ${`${prefix}c%`}`);

describe('idempotency', () => {
  it('importing the same file twice stores its rows once; identical lines are both kept', async () => {
    const file = f.file('twice.csv', interactions('tw-', 500));
    const first = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, batchSize: 120 });
    expect(first).toMatchObject({ rowsRead: 500, accepted: 500, rejected: 0, interactions: { created: 500, unchanged: 0 }, stubs: { customers: 37, items: 23 } });
    expect(await total('tw-')).toBe(500);
    const second = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, batchSize: 77 });
    expect(second).toMatchObject({ rowsRead: 500, accepted: 500, interactions: { created: 0, unchanged: 500 }, stubs: { customers: 0, items: 0 } });
    expect(await total('tw-')).toBe(500);
    // 50 lines repeat the line before them: both are stored, with different event ids.
    const repeats = await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE source = ${`import:${first.jobId}`} AND event_id LIKE 'f:%:1'`);
    expect(repeats).toBe(50);
  });

  it('the same rows in another order or with other line ends and quoting get the same ids', async () => {
    const a = f.file('a.csv', `${HEADER}\n,ord-c,ord-i,view,,,,2024-05-01T10:00:00Z\n,ord-c,ord-i,click,,,,2024-05-01T10:00:00Z\n`);
    const b = f.file('b.csv', `${HEADER}\r\n,"ord-c",ord-i,click,,,,2024-05-01T10:00:00.000Z\r\n,ord-c,"ord-i",view,,,,2024-05-01 10:00:00\r\n`);
    await importFile(f.db, { path: a, kind: 'interactions', actor, store: f.store });
    const again = await importFile(f.db, { path: b, kind: 'interactions', actor, store: f.store });
    expect(again.interactions).toEqual({ created: 0, updated: 0, unchanged: 2 });
  });

  it('explicit event ids are shared with the API (e: prefix) and a repeat in the file is kept once', async () => {
    const s = await importFile(f.db, {
      path: f.file('events.csv', `${HEADER}\nev-100,ev-c,ev-i,view,,,,2024-01-01T00:00:00Z\nev-100,ev-c,ev-i,click,,,,2024-01-01T00:00:00Z\n`),
      kind: 'interactions',
      actor,
      store: f.store,
    });
    expect(s.interactions).toEqual({ created: 1, updated: 0, unchanged: 1 });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE event_id = 'e:ev-100' AND type = 'view'`)).toBe(1);
  });

  it('customers and items are upserts by external id: unchanged the second time, updated when a value changes', async () => {
    const customers = f.file(
      'customers.csv',
      'id,email,phone,name,country,attributes,email_consent,sms_consent\nu1,Ada@Example.com,+44 20 7946 0958,Ada,GB,"{""tier"":""gold""}",yes,\nu2,,,Grace,US,,no,true\n',
    );
    const first = await importFile(f.db, { path: customers, kind: 'customers', actor, store: f.store });
    expect(first).toMatchObject({ accepted: 2, customers: { created: 2, updated: 0, unchanged: 0 } });
    const again = await importFile(f.db, { path: customers, kind: 'customers', actor, store: f.store });
    expect(again.customers).toEqual({ created: 0, updated: 0, unchanged: 2 });
    // Contact data is stored encrypted; consent is recorded with the import as its source.
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE email_ciphertext LIKE '%Ada%' OR email_ciphertext LIKE '%example%'`)).toBe(0);
    expect(
      await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id = 'u1' AND email_consent AND email_consent_source = ${`import:${first.jobId}`} AND attributes->>'tier' = 'gold'`),
    ).toBe(1);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id = 'u2' AND email_consent = false AND sms_consent`)).toBe(1);
    // A later row for the same id wins, whatever the batch boundaries.
    const changed = await importFile(f.db, {
      path: f.file('customers2.ndjson', '{"id":"u2","name":"Grace H."}\n{"id":"u2","name":"Grace Hopper"}\n'),
      kind: 'customers',
      actor,
      store: f.store,
    });
    expect(changed.customers).toEqual({ created: 0, updated: 2, unchanged: 0 });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id = 'u2' AND name = 'Grace Hopper' AND country = 'US'`)).toBe(1);
  });

  it('a stub item that gets real data is no longer a stub', async () => {
    await importFile(f.db, { path: f.file('stub.csv', `${HEADER}\n,st-c,st-i,view,,,,2024-01-01T00:00:00Z\n`), kind: 'interactions', actor, store: f.store });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM items WHERE external_id = 'st-i' AND attributes @> '{"stub": true}'`)).toBe(1);
    await importFile(f.db, { path: f.file('items.csv', 'id,title,categories,price,currency\nst-i,Real title,a|b,3.5,gbp\n'), kind: 'items', actor, store: f.store });
    expect(
      await count(f.db, sql`SELECT count(*) AS n FROM items WHERE external_id = 'st-i' AND title = 'Real title' AND categories = '{a,b}' AND currency = 'GBP' AND NOT attributes ? 'stub'`),
    ).toBe(1);
  });
});

describe('crash recovery', () => {
  it('an import that fails after some batches can be run again and ends with exactly the rows of the file', async () => {
    const file = f.file('crash.csv', interactions('cr-', 600));
    let batches = 0;
    const crashed: unknown = await importFile(f.db, {
      path: file,
      kind: 'interactions',
      actor,
      store: f.store,
      batchSize: 100,
      concurrency: 1,
      onProgress: (p) => {
        if (p.stage === 'interactions' && ++batches === 2) throw new Error('simulated crash');
      },
    }).catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(Error);
    expect((crashed as Error).message).toBe('simulated crash');
    const partial = await total('cr-');
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(600);
    const [failed] = (await listImportJobs(f.db.db, { first: 1 })).jobs;
    expect(failed).toMatchObject({ status: 'failed', error: 'simulated crash', fileName: 'crash.csv' });

    const rerun = await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store, batchSize: 100 });
    expect(rerun).toMatchObject({ rowsRead: 600, accepted: 600, interactions: { created: 600 - partial, unchanged: partial } });
    expect(await total('cr-')).toBe(600);
  });

  it('an import cancelled through its signal stops, is marked cancelled, and a re-run completes it', async () => {
    const file = f.file('cancel.csv', interactions('ca-', 400));
    const controller = new AbortController();
    const stopped: unknown = await importFile(f.db, {
      path: file,
      kind: 'interactions',
      actor,
      store: f.store,
      batchSize: 100,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.stage === 'interactions') controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(stopped).toMatchObject({ name: 'AbortError' });
    const [job] = (await listImportJobs(f.db.db, { first: 1 })).jobs;
    expect(job?.status).toBe('cancelled');
    expect(await total('ca-')).toBeLessThan(400);
    await importFile(f.db, { path: file, kind: 'interactions', actor, store: f.store });
    expect(await total('ca-')).toBe(400);
  });
});

describe('jobs and progress', () => {
  it('reports {stage, done, total} with row counts, and keeps them on the job', async () => {
    const content = interactions('pr-', 300);
    const seen: ImportProgress[] = [];
    const s = await importFile(f.db, {
      stream: Readable.from([Buffer.from(content.slice(0, 1000)), Buffer.from(content.slice(1000))]),
      fileName: 'upload.csv',
      size: Buffer.byteLength(content),
      kind: 'interactions',
      actor,
      store: f.store,
      batchSize: 100,
      onProgress: (p) => seen.push(p),
    });
    expect(seen[0]).toMatchObject({ stage: 'read', done: 0, rowsRead: 0 });
    expect(seen.at(-1)).toEqual({ stage: 'done', done: Buffer.byteLength(content), total: Buffer.byteLength(content), rowsRead: 300, accepted: 300, rejected: 0 });
    expect(seen.filter((p) => p.stage === 'interactions').length).toBeGreaterThanOrEqual(1);
    const job = await getImportJob(f.db.db, s.jobId);
    expect(job).toMatchObject({
      kind: 'interactions',
      format: 'csv',
      fileName: 'upload.csv',
      status: 'completed',
      createdBy: 'ingest-test',
      progress: { stage: 'done', done: Buffer.byteLength(content), total: Buffer.byteLength(content), rowsRead: 300, accepted: 300, rejected: 0 },
    });
    expect(job?.finishedAt).toBeInstanceOf(Date);
    const page = await listImportJobs(f.db.db, { first: 2, filter: { status: 'completed' } });
    expect(page.jobs[0]?.id).toBe(s.jobId);
    const next = await listImportJobs(f.db.db, { first: 100, after: page.jobs[1]?.id ?? null });
    expect(next.jobs.some((j) => j.id === s.jobId)).toBe(false);
    expect(await getImportJob(f.db.db, 'not-a-uuid')).toBeNull();
  });

  it('records the import in the audit log', async () => {
    const s = await importFile(f.db, { path: f.file('audited.csv', interactions('au-', 3)), kind: 'interactions', actor, store: f.store });
    expect(await count(f.db, sql`SELECT count(*) AS n FROM audit_log WHERE operation = 'import.completed' AND target_id = ${s.jobId} AND actor_name = 'ingest-test'`)).toBe(1);
  });
});

describe('the online-retail preset', () => {
  const header = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';

  it('maps customers, items and purchases; cancellations are negative; rows without a customer are rejected', async () => {
    const s = await importFile(f.db, {
      path: f.file(
        'retail.csv',
        [
          header,
          '569901,23256,CHILDRENS CUTLERY SPACEBOY ,2,2011-10-06 16:20:00,4.15,12923.0,United Kingdom',
          'C569902,23256,CHILDRENS CUTLERY SPACEBOY ,-1,2011-10-07 09:00:00,4.15,12923.0,United Kingdom',
          '536365,85123A,"WHITE HANGING HEART T-LIGHT HOLDER",6,12/1/2010 8:26,2.55,17850.0,EIRE',
          '536366,85123A,,3,2010-12-01 08:28:00,2.65,17851.0,European Community',
          '536367,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom',
          '536368,22634,BAD PRICE,1,2010-12-01 08:28:00,-11062.06,17852.0,United Kingdom',
        ].join('\n'),
      ),
      kind: 'online-retail',
      actor,
      store: f.store,
    });
    expect(s).toMatchObject({ rowsRead: 6, accepted: 4, rejected: 2, rejectionsByCode: { MISSING_CUSTOMER_ID: 1, NEGATIVE_PRICE: 1 }, stubs: { customers: 0, items: 0 } });
    expect(
      await count(
        f.db,
        sql`SELECT count(*) AS n FROM interactions i JOIN customers c ON c.id = i.customer_id JOIN items t ON t.id = i.item_id
            WHERE c.external_id = '12923' AND t.external_id = '23256' AND i.type = 'purchase'
              AND ((i.quantity = 2 AND i.amount = 8.30 AND i.occurred_at = '2011-10-06T16:20:00Z')
                OR (i.quantity = -1 AND i.amount = -4.15 AND i.occurred_at = '2011-10-07T09:00:00Z'))`,
      ),
    ).toBe(2);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id = '17850' AND country = 'IE'`)).toBe(1);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM customers WHERE external_id = '17851' AND country IS NULL AND attributes->>'country_name' = 'European Community'`)).toBe(1);
    // The line without a description keeps the title of the line with one; the last price wins.
    expect(await count(f.db, sql`SELECT count(*) AS n FROM items WHERE external_id = '85123A' AND title = 'WHITE HANGING HEART T-LIGHT HOLDER' AND price = 2.65 AND currency = 'GBP'`)).toBe(1);
    expect(await count(f.db, sql`SELECT count(*) AS n FROM interactions WHERE occurred_at = '2010-12-01T08:26:00Z'`)).toBe(1);
  });
});
