import { parentPort, workerData } from 'node:worker_threads';
import { PieceReader, type PieceReaderInit } from './bulk-rows.js';
import type { ReaderMessage, ReaderReply } from './bulk-readers.js';

// A thread of a parallel bulk import: reads the pieces of the file it is given (bulk-rows.ts)
// and sends their rows back; learns the ids the main thread resolves meanwhile.

const reader = new PieceReader(workerData as PieceReaderInit);
const port = parentPort;

port?.on('message', (message: ReaderMessage) => {
  if (message.type === 'learn') {
    reader.learn(message.kind, message.names, message.ids);
    return;
  }
  let reply: ReaderReply;
  try {
    const rows = reader.read(message.seq, message.text, message.firstLine);
    reply = { type: 'rows', rows };
    port.postMessage(reply, [rows.copy.buffer, rows.ends.buffer, rows.lines.buffer, rows.hashes.buffer, rows.flags.buffer] as ArrayBuffer[]);
  } catch (error) {
    // The message only: it ends up in the job's error and the audit log, where paths do not belong.
    reply = { type: 'failed', seq: message.seq, message: error instanceof Error ? error.message : String(error) };
    port.postMessage(reply);
  }
});
