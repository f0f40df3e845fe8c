import type { InteractionRow } from '@clientele/domain';
import type { Session } from './session.js';

// Interactions are written a batch at a time: COPY into a temporary staging table, then one
// INSERT … SELECT into the live partition that resolves external ids to internal ids
// (following merge aliases) and skips event ids already stored. Unknown customers and items
// are created as stubs first, or the rows naming them are reported, as the import asks. The
// same SQL runs on PostgreSQL (COPY FROM STDIN) and on PGlite (COPY FROM '/dev/blob'). Large
// imports on PostgreSQL take the bulk path instead (bulk.ts).

const STAGE = 'clientele_import_stage';
const STAGE_COLUMNS = ['line', 'event_id', 'customer_ext', 'item_ext', 'type', 'value', 'quantity', 'amount', 'occurred_ms'] as const;

/** Escapes a value for COPY's text format. */
export function copyText(value: string): string {
  // Fast path: ids and types rarely hold any of the four special characters.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 92 || c === 9 || c === 10 || c === 13) {
      return value.replace(/[\\\t\n\r]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r'));
    }
  }
  return value;
}

export const copyNumber = (value: number | null): string => (value === null ? '\\N' : String(value));

/** One staged row as a line of COPY text. */
export function stageLine(line: number, row: InteractionRow): string {
  return `${line}\t${copyText(row.eventId)}\t${copyText(row.customerExternalId)}\t${copyText(row.itemExternalId)}\t${copyText(row.type)}\t${copyNumber(row.value)}\t${copyNumber(row.quantity)}\t${copyNumber(row.amount)}\t${row.occurredAt.getTime()}\n`;
}

export interface StagedBatch {
  /** COPY text, one line per row. */
  text: string;
  rows: number;
}

export interface UnknownReference {
  line: number;
  customer: string | null;
  item: string | null;
}

export interface StageResult {
  inserted: number;
  stubCustomers: number;
  stubItems: number;
  /** Rows naming a customer or item that does not exist (only when not creating stubs). */
  unknown: UnknownReference[];
}

/** Writes one batch inside the caller's transaction. */
export async function writeStagedInteractions(
  session: Session,
  batch: StagedBatch,
  options: { createUnknown: boolean; source: string },
): Promise<StageResult> {
  await session.query(
    `CREATE TEMP TABLE ${STAGE} (line bigint, event_id text, customer_ext text, item_ext text, type text,
       value float8, quantity int, amount numeric, occurred_ms bigint) ON COMMIT DROP`,
  );
  await session.copyIn(STAGE, STAGE_COLUMNS, batch.text);
  let stubCustomers = 0;
  let stubItems = 0;
  let unknown: UnknownReference[] = [];
  if (options.createUnknown) {
    stubCustomers = (
      await session.query(
        `INSERT INTO customers (external_id, attributes)
         SELECT DISTINCT s.customer_ext, '{"stub": true}'::jsonb FROM ${STAGE} s
         WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = s.customer_ext)
           AND NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.external_id = s.customer_ext)
         ORDER BY 1 -- concurrent batches lock shared new ids in one order: they wait, never deadlock
         ON CONFLICT (external_id) DO NOTHING`,
      )
    ).count;
    stubItems = (
      await session.query(
        `INSERT INTO items (external_id, title, attributes)
         SELECT DISTINCT s.item_ext, s.item_ext, '{"stub": true}'::jsonb FROM ${STAGE} s
         WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.external_id = s.item_ext)
         ORDER BY 1
         ON CONFLICT (external_id) DO NOTHING`,
      )
    ).count;
  } else {
    const { rows } = await session.query<{ line: string | number; customer: string | null; item: string | null }>(
      `SELECT s.line,
              CASE WHEN c.id IS NULL AND a.customer_id IS NULL THEN s.customer_ext END AS customer,
              CASE WHEN i.id IS NULL THEN s.item_ext END AS item
       FROM ${STAGE} s
       LEFT JOIN customers c ON c.external_id = s.customer_ext
       LEFT JOIN customer_aliases a ON c.id IS NULL AND a.external_id = s.customer_ext
       LEFT JOIN items i ON i.external_id = s.item_ext
       WHERE (c.id IS NULL AND a.customer_id IS NULL) OR i.id IS NULL
       ORDER BY s.line`,
    );
    unknown = rows.map((r) => ({ line: Number(r.line), customer: r.customer, item: r.item }));
  }
  // An event id already stored in the live partition is skipped by its unique index, one stored
  // by a bulk load (another partition) by the NOT EXISTS; see insertInteractions in
  // @clientele/domain for why a bulk load attaching meanwhile cannot slip one in between.
  const inserted = (
    await session.query(
      `INSERT INTO interactions_live (event_id, customer_id, item_id, type, value, quantity, amount, occurred_at, source)
       SELECT s.event_id, coalesce(c.id, a.customer_id), i.id, s.type, s.value, s.quantity, s.amount,
              timestamptz 'epoch' + s.occurred_ms * interval '1 millisecond', $1
       FROM ${STAGE} s
       LEFT JOIN customers c ON c.external_id = s.customer_ext
       LEFT JOIN customer_aliases a ON c.id IS NULL AND a.external_id = s.customer_ext
       JOIN items i ON i.external_id = s.item_ext
       WHERE coalesce(c.id, a.customer_id) IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM interactions x WHERE x.event_id = s.event_id AND x.segment <> 0)
       ON CONFLICT (event_id, segment) DO NOTHING`,
      [options.source],
    )
  ).count;
  return { inserted, stubCustomers, stubItems, unknown };
}
