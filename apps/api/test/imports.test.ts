import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliWorkspace, runCli, startTestApp, type CliWorkspace, type TestApp } from './helpers.js';

const CUSTOMERS_CSV = [
  'id,email,name,country,email_consent',
  'c-1,Ada@Example.com,Ada,GB,true',
  'c-2,not-an-email,Bob,FR,false',
  'c-3,cy@example.com,Cy,DE,maybe',
  'c-4,di@example.com,Di,US,false',
  '',
].join('\n');

async function upload(app: TestApp, query: string, body: string, headers: Record<string, string>) {
  const response = await fetch(`${app.url}/imports?${query}`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string; field?: string } } };
}

describe('bulk import by upload', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('imports an uploaded CSV, reports rejected rows, and shows the job over GraphQL', async () => {
    const write = await app.key(['read', 'write']);
    const read = await app.key(['read']);
    const csv = { 'content-type': 'text/csv' };

    const anonymous = await upload(app, 'kind=customers', CUSTOMERS_CSV, csv);
    expect(anonymous.status).toBe(401);
    const readOnly = await upload(app, 'kind=customers', CUSTOMERS_CSV, { ...csv, authorization: `Bearer ${read}` });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.error?.code).toBe('FORBIDDEN');
    const badKind = await upload(app, 'kind=people', CUSTOMERS_CSV, { ...csv, authorization: `Bearer ${write}` });
    expect(badKind.status).toBe(400);
    expect(badKind.body.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'kind' });
    const missingColumn = await upload(app, 'kind=customers&fileName=people.csv', 'email,name\na@example.com,A\n', { ...csv, authorization: `Bearer ${write}` });
    expect(missingColumn.status).toBe(400);
    expect(missingColumn.body.error?.message).toMatch(/people\.csv.*id/);

    const first = await upload(app, 'kind=customers&fileName=customers.csv', CUSTOMERS_CSV, { ...csv, authorization: `Bearer ${write}` });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ kind: 'customers', rowsRead: 4, accepted: 2, rejected: 2, customers: { created: 2, updated: 0, unchanged: 0 } });
    const again = await upload(app, 'kind=customers&fileName=customers.csv', CUSTOMERS_CSV, { ...csv, authorization: `Bearer ${write}` });
    expect(again.body).toMatchObject({ accepted: 2, rejected: 2, customers: { created: 0, updated: 0, unchanged: 2 } });

    const jobId = String(first.body['jobId']);
    const shown = await app.graphql(
      `{ importJob(id: "${jobId}") { kind format fileName status rowsRead accepted rejected progress { stage } rejections { line column code } }
         imports(first: 5, kind: "customers") { nodes { id status } pageInfo { hasNextPage } } }`,
      { key: read },
    );
    expect(shown.body.errors).toBeUndefined();
    expect(shown.body.data?.['importJob']).toEqual({
      kind: 'customers',
      format: 'csv',
      fileName: 'customers.csv',
      status: 'COMPLETED',
      rowsRead: 4,
      accepted: 2,
      rejected: 2,
      progress: { stage: 'done' },
      rejections: [
        { line: 3, column: 'email', code: 'INVALID_VALUE' },
        { line: 4, column: 'email_consent', code: 'INVALID_BOOLEAN' },
      ],
    });
    const listed = shown.body.data?.['imports'] as { nodes: { id: string; status: string }[] };
    // Newest first: the re-import, then the first import; the refused upload failed before its header bound.
    expect(listed.nodes.map((n) => n.status).slice(0, 2)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(listed.nodes[1]?.id).toBe(jobId);

    const people = await app.graphql('{ customers(first: 10) { totalCount } }', { key: read });
    expect(people.body.data?.['customers']).toEqual({ totalCount: 2 });
  });
});

describe('clientele import', () => {
  let workspace: CliWorkspace;
  const cli = (args: string[]) => runCli(args, workspace.env);

  beforeAll(async () => {
    workspace = await cliWorkspace('clientele-import-');
  });
  afterAll(async () => {
    await workspace?.close();
  });

  it('imports a file with a summary and a rejection report, and a re-import changes nothing', { timeout: 600_000 }, () => {
    const { dir } = workspace;
    const file = path.join(dir, 'customers.csv');
    writeFileSync(file, CUSTOMERS_CSV);
    const report = path.join(dir, 'rejected.csv');
    const first = cli(['import', file, '--kind', 'customers', '--rejections', report]);
    expect(first.stderr).not.toMatch(/Error|at .*\.js/);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/rows read 4, accepted 2, rejected 2/);
    expect(first.stdout).toMatch(/customers: 2 created, 0 updated, 0 unchanged/);
    // The live report lists rows as they are found (syntax problems before domain checks).
    const [header, ...rows] = readFileSync(report, 'utf8').trim().split('\n');
    expect(header).toBe('line,column,code,reason');
    expect(rows.sort()).toEqual([expect.stringMatching(/^3,email,INVALID_VALUE,/), expect.stringMatching(/^4,email_consent,INVALID_BOOLEAN,/)]);
    const jobId = /job ([0-9a-f-]{36})/.exec(first.stdout)?.[1] ?? '';

    const second = cli(['import', file, '--kind', 'customers']);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/customers: 0 created, 0 updated, 2 unchanged/);

    const rejections = cli(['imports', 'rejections', jobId]);
    expect(rejections.status).toBe(0);
    expect(rejections.stdout.trim().split('\n')).toHaveLength(3);

    const missing = cli(['import', path.join(dir, 'nope.csv'), '--kind', 'customers']);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toBe(`clientele: ${path.join(dir, 'nope.csv')}: no such file`);
  });

  it('--mode bulk loads interactions into a partition of their own on PostgreSQL, and is refused on the embedded database', { timeout: 600_000 }, () => {
    const file = path.join(workspace.dir, 'interactions.csv');
    writeFileSync(file, 'event_id,customer_id,item_id,type,value,quantity,amount,occurred_at\nm-1,mc1,mi1,view,,,,2024-01-01T00:00:00Z\nm-2,mc2,mi1,click,,,,2024-01-01T00:00:00Z\nm-1,mc1,mi1,view,,,,2024-01-01T00:00:00Z\n');
    const bulk = cli(['import', file, '--kind', 'interactions', '--mode', 'bulk']);
    if (process.env['DATABASE_URL']) {
      expect(bulk.stderr).not.toMatch(/Error|at .*\.js/);
      expect(bulk.status).toBe(0);
      expect(bulk.stdout).toMatch(/\(interactions, csv, bulk\)/);
      expect(bulk.stdout).toMatch(/interactions: 2 created, 0 updated, 1 unchanged/);
      const again = cli(['import', file, '--kind', 'interactions', '--mode', 'live']);
      expect(again.stdout).toMatch(/\(interactions, csv, live\)/);
      expect(again.stdout).toMatch(/interactions: 0 created, 0 updated, 3 unchanged/);
    } else {
      expect(bulk.status).toBe(1);
      expect(bulk.stderr).toMatch(/bulk needs PostgreSQL/);
    }
    const wrong = cli(['import', file, '--kind', 'interactions', '--mode', 'fast']);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/--mode/);
  });
});
