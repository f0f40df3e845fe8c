import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PieceReaderInit, PieceRows } from './bulk-rows.js';
import type { CsvPiece } from './csv.js';

// The threads of a parallel bulk import. The main thread cuts the file into pieces at record
// boundaries (CsvSplitter) and hands them out; each thread parses, validates, hashes and
// formats its pieces (bulk-worker.ts, bulk-rows.ts). Rows come back per piece, and the main
// thread takes them in file order. Parsing and formatting were ~10 µs a row on the one thread
// that also wrote to PostgreSQL; spread over the cores they stop being the bottleneck.

export type ReaderMessage =
  | { type: 'read'; seq: number; text: Uint8Array; firstLine: number }
  | { type: 'learn'; kind: 'customers' | 'items'; names: string[]; ids: number[] };

export type ReaderReply = { type: 'rows'; rows: PieceRows } | { type: 'failed'; seq: number; message: string };

/**
 * The compiled thread script: next to this module once built. When the sources run under a
 * test runner, the threads run the build in `dist`, which must then be newer than every source
 * file (or the threads would read with older code than the main thread).
 */
function workerScript(): URL {
  const here = new URL('./bulk-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../dist/bulk-worker.js', import.meta.url);
  const builtPath = fileURLToPath(built);
  if (!existsSync(builtPath)) throw new Error(`the bulk import's reader thread (${builtPath}) is missing; build @clientele/ingest first`);
  const sources = path.dirname(fileURLToPath(import.meta.url));
  const builtAt = statSync(builtPath).mtimeMs;
  const newer = readdirSync(sources).filter((name) => name.endsWith('.ts') && statSync(path.join(sources, name)).mtimeMs > builtAt);
  if (newer.length > 0) throw new Error(`the bulk import's reader thread (${builtPath}) is older than ${newer.join(', ')}; build @clientele/ingest again`);
  return built;
}

/**
 * A reader allocates a dozen short-lived strings and objects per row, and with the default
 * young generation (16 MiB) the copying collector took about a fifth of its time. Importing a
 * million rows took 16.2–16.8 s with the default, 13.6 s with 48 or 96 MiB and 12.2 s with 192
 * MiB (runs next to each other), peak RSS growing from ~460 to ~600 MiB; 128 MiB gave 12.3 s
 * and 607 MiB in the benchmark.
 */
const YOUNG_GENERATION_MB = 128;

interface Waiting {
  resolve: (rows: PieceRows) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  /** Pieces given to it and not answered yet. */
  busy: number;
}

export class PieceReaders {
  private readonly threads: Thread[];
  private readonly waiting = new Map<number, Waiting>();
  private failure: Error | null = null;
  private closed = false;

  constructor(init: PieceReaderInit, count: number) {
    const script = workerScript();
    this.threads = [];
    try {
      for (let i = 0; i < count; i++) this.threads.push(this.startThread(script, init));
    } catch (error) {
      this.closed = true;
      for (const thread of this.threads) void thread.worker.terminate();
      throw error;
    }
  }

  private startThread(script: URL, init: PieceReaderInit): Thread {
    const thread: Thread = { worker: new Worker(script, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } }), busy: 0 };
    thread.worker.on('message', (reply: ReaderReply) => this.answer(thread, reply));
    thread.worker.on('error', (error) => this.fail(new Error(`a reader thread of the bulk import failed: ${error.message}`)));
    thread.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`a reader thread of the bulk import stopped (exit code ${code})`));
    });
    return thread;
  }

  /** Reads a piece on the least busy thread. */
  read(seq: number, piece: CsvPiece): Promise<PieceRows> {
    if (this.failure) return Promise.reject(this.failure);
    let thread = this.threads[0] as Thread;
    for (const t of this.threads) if (t.busy < thread.busy) thread = t;
    thread.busy++;
    // A copy of its own, moved to the thread: the piece is a slice of a larger buffer, and
    // posting a slice copies the whole buffer behind it.
    const text = new Uint8Array(piece.text);
    const message: ReaderMessage = { type: 'read', seq, text, firstLine: piece.firstLine };
    return new Promise<PieceRows>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      thread.worker.postMessage(message, [text.buffer as ArrayBuffer]);
    });
  }

  /** Tells every thread ids resolved on the main thread, so later pieces format those rows themselves. */
  learn(kind: 'customers' | 'items', names: string[], ids: number[]): void {
    if (names.length === 0 || this.failure) return;
    const message: ReaderMessage = { type: 'learn', kind, names, ids };
    for (const thread of this.threads) thread.worker.postMessage(message);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.fail(new Error('the bulk import stopped reading'));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private answer(thread: Thread, reply: ReaderReply): void {
    thread.busy--;
    const seq = reply.type === 'rows' ? reply.rows.seq : reply.seq;
    const waiting = this.waiting.get(seq);
    if (!waiting) return;
    this.waiting.delete(seq);
    if (reply.type === 'rows') waiting.resolve(reply.rows);
    else waiting.reject(new Error(`a reader thread of the bulk import failed: ${reply.message}`));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.waiting.values()) waiting.reject(this.failure);
    this.waiting.clear();
  }
}
