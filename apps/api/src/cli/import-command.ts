import type { AuditActor, DatabaseHandle } from '@clientele/db';
import { type Config, loadConfig } from '@clientele/config';
import type { Store } from '@clientele/domain';
import {
  IMPORT_KINDS,
  importFile,
  listImportJobs,
  writeRejectionReport,
  type ImportKind,
  type ImportMode,
  type ImportProgress,
  type ImportSummary,
} from '@clientele/ingest';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { progressPrinter } from './progress.js';
import { positiveInt } from './options.js';

// `clientele import FILE --kind …` (a streamed bulk import with a progress bar and a rejection
// report), `clientele imports list` and `clientele imports rejections JOB`.

export interface ImportCommandDeps {
  withDatabase<T>(config: Config, work: (database: DatabaseHandle & { store: Store }) => Promise<T>): Promise<T>;
  table(rows: Record<string, unknown>[]): string;
  cliActor: AuditActor;
}

/** `field=column` pairs (`--map id=CustomerID --map email=Mail`). */
function mappingPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError(`--map expects field=column, like id=CustomerID, got '${value}'`);
  return { ...previous, [value.slice(0, at).trim()]: value.slice(at + 1).trim() };
}


function summaryLines(summary: ImportSummary): string[] {
  const counts = (c: { created: number; updated: number; unchanged: number }) => `${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged`;
  const lines = [
    `imported ${summary.fileName} (${summary.kind}, ${summary.format}${summary.kind === 'interactions' ? `, ${summary.mode}` : ''}) in ${summary.seconds.toFixed(1)} s — job ${summary.jobId}`,
    `  rows read ${summary.rowsRead.toLocaleString('en')}, accepted ${summary.accepted.toLocaleString('en')}, rejected ${summary.rejected.toLocaleString('en')}`,
  ];
  if (summary.customers.created + summary.customers.updated + summary.customers.unchanged > 0) lines.push(`  customers: ${counts(summary.customers)}`);
  if (summary.items.created + summary.items.updated + summary.items.unchanged > 0) lines.push(`  items: ${counts(summary.items)}`);
  if (summary.interactions.created + summary.interactions.updated + summary.interactions.unchanged > 0) lines.push(`  interactions: ${counts(summary.interactions)}`);
  if (summary.stubs.customers + summary.stubs.items > 0) lines.push(`  stubs created for unknown references: ${summary.stubs.customers} customers, ${summary.stubs.items} items`);
  const reasons = Object.entries(summary.rejectionsByCode);
  if (reasons.length > 0) lines.push(`  rejected by reason: ${reasons.map(([code, n]) => `${code} ${n}`).join(', ')}`);
  if (summary.ignoredColumns.length > 0) lines.push(`  columns not read: ${summary.ignoredColumns.join(', ')}`);
  return lines;
}

export function registerImportCommands(program: Command, deps: ImportCommandDeps): void {
  program
    .command('import')
    .description('import customers, items or interactions from a CSV or NDJSON file (streamed; re-importing a file adds nothing twice)')
    .argument('<file>', 'a .csv, .tsv, .ndjson or .jsonl file')
    .addOption(new Option('--kind <kind>', 'what the file holds; online-retail is the preset for the UCI Online Retail columns').choices([...IMPORT_KINDS]).makeOptionMandatory())
    .addOption(new Option('--format <format>', 'the file format, when the extension does not say').choices(['csv', 'ndjson']))
    .option('--delimiter <char>', 'CSV field separator (default , or a tab for .tsv)')
    .option('--map <field=column>', 'read a field from a differently named column (repeatable)', mappingPair)
    .addOption(new Option('--unknown <policy>', 'interactions naming an unknown customer or item: create a stub or reject the row').choices(['create', 'reject']).default('create'))
    .addOption(new Option('--batch-size <n>', 'rows per transaction').argParser(positiveInt('--batch-size')))
    .addOption(
      new Option(
        '--mode <mode>',
        'interactions: bulk loads the file into a partition of its own, indexed at the end (PostgreSQL; visible once complete), live writes batch by batch; auto picks bulk for files of 16 MiB or more',
      )
        .choices(['auto', 'bulk', 'live'])
        .default('auto'),
    )
    .option('--rejections <file>', 'write every rejected row (line, column, code, reason) to this CSV file')
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        file: string,
        options: {
          kind: ImportKind;
          format?: 'csv' | 'ndjson';
          delimiter?: string;
          map?: Record<string, string>;
          unknown: 'create' | 'reject';
          batchSize?: number;
          mode: ImportMode;
          rejections?: string;
          json?: boolean;
        },
      ) => {
        await deps.withDatabase(loadConfig(), async (database) => {
          const bar = progressPrinter();
          const controller = new AbortController();
          // Ctrl-C stops between batches; what was written stays consistent and a re-run completes it.
          const stop = () => controller.abort(new Error('interrupted'));
          process.once('SIGINT', stop);
          try {
            const summary = await importFile(database, {
              path: file,
              kind: options.kind,
              store: database.store,
              actor: deps.cliActor,
              unknownReferences: options.unknown,
              mode: options.mode,
              signal: controller.signal,
              onProgress: (p: ImportProgress) => bar.update({ stage: p.stage === 'read' ? 'reading' : p.stage, done: p.done, total: p.total }),
              ...(options.format ? { format: options.format } : {}),
              ...(options.delimiter ? { delimiter: options.delimiter } : {}),
              ...(options.map ? { mapping: options.map } : {}),
              ...(options.batchSize ? { batchSize: options.batchSize } : {}),
              ...(options.rejections ? { rejectionsPath: options.rejections } : {}),
            });
            bar.finish();
            console.log(options.json ? JSON.stringify(summary, null, 2) : summaryLines(summary).join('\n'));
            if (summary.rejected > 0 && !options.json) {
              console.log(options.rejections ? `  rejection report: ${options.rejections}` : `  see the rejected rows with: clientele imports rejections ${summary.jobId}`);
            }
          } finally {
            bar.finish();
            process.off('SIGINT', stop);
          }
        });
      },
    );

  const imports = program.command('imports').description('past imports and their rejection reports');
  imports
    .command('list')
    .description('list recent imports, newest first')
    .addOption(new Option('--first <n>', 'how many').argParser(positiveInt('--first')).default(20))
    .action(async (options: { first: number }) => {
      await deps.withDatabase(loadConfig(), async ({ db }) => {
        const { jobs } = await listImportJobs(db, { first: options.first });
        console.log(
          deps.table(
            jobs.map((j) => ({ id: j.id, kind: j.kind, file: j.fileName, status: j.status, read: j.rowsRead, accepted: j.accepted, rejected: j.rejected, started: j.startedAt })),
          ),
        );
      });
    });
  imports
    .command('rejections')
    .description('print the rejected rows of an import as CSV (line, column, code, reason)')
    .argument('<job>', 'the import job id')
    .option('--output <file>', 'write to a file instead of standard output')
    .action(async (job: string, options: { output?: string }) => {
      await deps.withDatabase(loadConfig(), async ({ db }) => {
        const written = await writeRejectionReport(db, job, options.output ?? process.stdout);
        if (options.output) console.error(`wrote ${written} rejections to ${options.output}`);
      });
    });
}
