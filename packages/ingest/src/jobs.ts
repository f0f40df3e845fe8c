import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { importJobs, importRejections, type Database } from '@clientele/db';
import { and, asc, desc, eq, gt, lt, or, type SQL } from 'drizzle-orm';
import { ImportError, type Rejection } from './errors.js';

/** A rejection as stored (its code is any code a past version wrote). */
export interface StoredRejection {
  line: number;
  column: string | null;
  code: string;
  reason: string;
}
import type { Session } from './session.js';

export type ImportJobStatus = 'running' | 'completed' | 'failed' | 'cancelled';

/** Progress in the one shape used everywhere, plus the row counts of an import. */
export interface ImportProgress {
  /** `read` before the first write, then the kind being written, `done` at the end. */
  stage: string;
  /** Bytes of the file read so far. */
  done: number;
  /** Size of the file in bytes (0 when unknown, e.g. a stream without a size). */
  total: number;
  rowsRead: number;
  accepted: number;
  rejected: number;
}

export type ImportJobRecord = typeof importJobs.$inferSelect;

export interface ImportJob extends ImportJobRecord {
  status: ImportJobStatus;
  progress: ImportProgress;
}

const STATUSES: readonly string[] = ['running', 'completed', 'failed', 'cancelled'];

function isStatus(value: string): value is ImportJobStatus {
  return STATUSES.includes(value);
}

function toJob(row: ImportJobRecord): ImportJob {
  return {
    ...row,
    status: isStatus(row.status) ? row.status : 'failed',
    progress: {
      stage: row.stage,
      done: row.bytesRead,
      total: row.totalBytes ?? 0,
      rowsRead: row.rowsRead,
      accepted: row.accepted,
      rejected: row.rejected,
    },
  };
}

export async function getImportJob(db: Database, id: string): Promise<ImportJob | null> {
  if (!UUID.test(id)) return null;
  const [row] = await db.select().from(importJobs).where(eq(importJobs.id, id));
  return row ? toJob(row) : null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ImportJobFilter {
  status?: ImportJobStatus | null | undefined;
  kind?: string | null | undefined;
}

export interface ImportJobPage {
  jobs: ImportJob[];
  hasNextPage: boolean;
}

/** Newest first. `after` is the id of the last job of the previous page. */
export async function listImportJobs(
  db: Database,
  request: { first?: number | null | undefined; after?: string | null | undefined; filter?: ImportJobFilter | null | undefined } = {},
): Promise<ImportJobPage> {
  const limit = Math.min(Math.max(request.first ?? 20, 1), 100);
  const conditions: SQL[] = [];
  if (request.filter?.status) conditions.push(eq(importJobs.status, request.filter.status));
  if (request.filter?.kind) conditions.push(eq(importJobs.kind, request.filter.kind));
  if (request.after) {
    const after = await getImportJob(db, request.after);
    if (!after) throw new ImportError('JOB_NOT_FOUND', `after: expected the id of an import job, got '${request.after}'`, 'after');
    const older = or(lt(importJobs.startedAt, after.startedAt), and(eq(importJobs.startedAt, after.startedAt), lt(importJobs.id, after.id)));
    if (older) conditions.push(older);
  }
  const rows = await db
    .select()
    .from(importJobs)
    .where(and(...conditions))
    .orderBy(desc(importJobs.startedAt), desc(importJobs.id))
    .limit(limit + 1);
  return { jobs: rows.slice(0, limit).map(toJob), hasNextPage: rows.length > limit };
}

/** Stored rejections of a job in file order (at most the cap; the job counts them all). */
export async function listRejections(
  db: Database,
  jobId: string,
  request: { first?: number | null | undefined; afterLine?: number | null | undefined } = {},
): Promise<StoredRejection[]> {
  if (!UUID.test(jobId)) throw new ImportError('JOB_NOT_FOUND', `expected the id of an import job, got '${jobId}'`, 'jobId');
  const limit = Math.min(Math.max(request.first ?? 100, 1), 10_000);
  const conditions: SQL[] = [eq(importRejections.jobId, jobId)];
  if (request.afterLine !== undefined && request.afterLine !== null) conditions.push(gt(importRejections.line, request.afterLine));
  const rows = await db
    .select({ line: importRejections.line, column: importRejections.column, code: importRejections.code, reason: importRejections.reason })
    .from(importRejections)
    .where(and(...conditions))
    .orderBy(asc(importRejections.line), asc(importRejections.id))
    .limit(limit);
  return rows;
}

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The CSV form of rejections: `line,column,code,reason`. */
export const REJECTION_CSV_HEADER = 'line,column,code,reason\n';

export function rejectionCsvLine(r: StoredRejection): string {
  return `${r.line},${csvCell(r.column)},${csvCell(r.code)},${csvCell(r.reason)}\n`;
}

/**
 * Writes a job's stored rejections as CSV (`line,column,code,reason`) to a file path or a
 * stream; returns how many were written.
 */
export async function writeRejectionReport(db: Database, jobId: string, destination: string | Writable): Promise<number> {
  const job = await getImportJob(db, jobId);
  if (!job) throw new ImportError('JOB_NOT_FOUND', `expected the id of an import job, got '${jobId}'`, 'jobId');
  const out = typeof destination === 'string' ? createWriteStream(destination) : destination;
  let written = 0;
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  try {
    await write(REJECTION_CSV_HEADER);
    let afterLine: number | undefined;
    let lastPage: StoredRejection[] = [];
    // Page by line; rejections sharing a line (never more than a few) stay on one page.
    for (;;) {
      lastPage = await listRejections(db, jobId, { first: 5000, afterLine: afterLine ?? null });
      for (const r of lastPage) await write(rejectionCsvLine(r));
      written += lastPage.length;
      if (lastPage.length < 5000) break;
      afterLine = lastPage[lastPage.length - 1]?.line;
    }
  } finally {
    if (typeof destination === 'string') {
      out.end();
      await finished(out);
    }
  }
  return written;
}

// ---- writes made by the importer (inside its batch transactions) -------------------------

export async function insertJob(
  session: Session,
  job: { kind: string; format: string; fileName: string; totalBytes: number | null; options: Record<string, unknown>; createdBy: string | null },
): Promise<string> {
  const { rows } = await session.query<{ id: string }>(
    `INSERT INTO import_jobs (kind, format, file_name, total_bytes, options, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [job.kind, job.format, job.fileName, job.totalBytes, JSON.stringify(job.options), job.createdBy],
  );
  const id = rows[0]?.id;
  if (!id) throw new Error('import_jobs: the insert returned no id');
  return id;
}

export async function updateJob(session: Session, id: string, progress: ImportProgress): Promise<void> {
  await session.query(
    `UPDATE import_jobs SET stage = $2, bytes_read = $3, rows_read = $4, accepted = $5, rejected = $6, updated_at = now() WHERE id = $1`,
    [id, progress.stage, progress.done, progress.rowsRead, progress.accepted, progress.rejected],
  );
}

export async function finishJob(session: Session, id: string, status: ImportJobStatus, progress: ImportProgress, error: string | null): Promise<void> {
  await session.query(
    `UPDATE import_jobs SET status = $2, stage = $3, bytes_read = $4, rows_read = $5, accepted = $6, rejected = $7, error = $8,
       updated_at = now(), finished_at = now() WHERE id = $1`,
    [id, status, progress.stage, progress.done, progress.rowsRead, progress.accepted, progress.rejected, error],
  );
}

export async function insertRejections(session: Session, jobId: string, rejections: readonly Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  await session.query(
    `INSERT INTO import_rejections (job_id, line, "column", code, reason)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])`,
    [jobId, rejections.map((r) => r.line), rejections.map((r) => r.column), rejections.map((r) => r.code), rejections.map((r) => r.reason)],
  );
}
