import { interactions, selectRows, type Executor } from '@clientele/db';
import { RATING_MAX, RATING_MIN } from '@clientele/domain';
import { param, sql } from 'drizzle-orm';
import type { TrainingParams } from './params.js';

// Training data comes straight from SQL: only usable interactions (no returns, ratings on the
// scale), one row per (customer, item) pair. Erased customers are deleted with their
// interactions, so they never appear. Rows are then given dense matrix indices.

/** Maps database ids to dense matrix rows (0…n-1), in ascending id order. */
export class IndexMap {
  private readonly rows = new Map<number, number>();
  constructor(readonly ids: Float64Array) {
    ids.forEach((id, row) => this.rows.set(id, row));
  }
  static fromIds(ids: Iterable<number>): IndexMap {
    return new IndexMap(Float64Array.from(new Set(ids)).sort());
  }
  get size(): number {
    return this.ids.length;
  }
  row(id: number): number | undefined {
    return this.rows.get(id);
  }
  id(row: number): number {
    const id = this.ids[row];
    if (id === undefined) throw new RangeError(`row ${row} is outside 0..${this.ids.length - 1}`);
    return id;
  }
}

/** One row per (customer, item) pair, in parallel arrays indexed by the maps. */
export interface Dataset {
  kind: TrainingParams['kind'];
  users: IndexMap;
  items: IndexMap;
  /** Matrix rows of each pair. */
  userRows: Int32Array;
  itemRows: Int32Array;
  /** explicit: the rating; implicit: the summed (decayed) weight. */
  values: Float32Array;
  /** Unix seconds of the pair's latest interaction (splits by time use it). */
  times: Float64Array;
  /** Index into `types` of the pair's strongest interaction type (for reasons). */
  typeCodes: Uint8Array;
  types: string[];
  /** Usable interaction rows behind the pairs. */
  interactionCount: number;
}

/** Minimum data a training run needs; below it the run fails with a message naming these. */
export const MINIMUM_DATA = { pairs: 20, customers: 2, items: 2 } as const;

export class InsufficientDataError extends Error {
  readonly code = 'INSUFFICIENT_DATA';
  constructor(message: string) {
    super(message);
    this.name = 'InsufficientDataError';
  }
}

// The usable-interaction rule of the data-quality report (packages/domain/src/quality.ts).
const USABLE = sql`(i.quantity IS NULL OR i.quantity > 0) AND (i.type <> 'rating' OR (i.value BETWEEN ${RATING_MIN} AND ${RATING_MAX}))`;

interface PairRow {
  customer_id: number | string;
  item_id: number | string;
  value: number;
  at: number;
  type: string;
  n: number | string;
}

/**
 * Reads the training pairs. explicit: the latest on-scale rating of each pair. implicit: the
 * sum over the pair's usable interactions of the type's weight, times 2^(−age / half-life) when
 * decay is on (age measured back from the newest usable interaction, so old data sets are
 * not decayed to nothing).
 */
export async function loadDataset(db: Executor, params: Pick<TrainingParams, 'kind' | 'weights' | 'decayHalfLifeDays'>): Promise<Dataset> {
  let rows: PairRow[];
  if (params.kind === 'explicit') {
    rows = await selectRows<PairRow>(
      db,
      sql`SELECT p.customer_id, p.item_id, p.value, p.at, 'rating' AS type, p.n FROM (
            SELECT DISTINCT ON (i.customer_id, i.item_id) i.customer_id, i.item_id, i.value::float8 AS value,
                   extract(epoch FROM i.occurred_at)::float8 AS at,
                   count(*) OVER (PARTITION BY i.customer_id, i.item_id) AS n
            FROM ${interactions} i
            WHERE i.type = 'rating' AND ${USABLE}
            ORDER BY i.customer_id, i.item_id, i.occurred_at DESC, i.id DESC) p`,
    );
  } else {
    const types = Object.keys(params.weights).filter((t) => (params.weights[t] ?? 0) > 0);
    const weights = types.map((t) => params.weights[t] ?? 0);
    const halfLife = params.decayHalfLifeDays;
    const decay =
      halfLife > 0
        ? sql`exp(-ln(2) * extract(epoch FROM (r.newest - i.occurred_at)) / ${halfLife * 86_400}::float8)`
        : sql`1.0::float8`;
    rows = await selectRows<PairRow>(
      db,
      sql`WITH w AS (SELECT * FROM unnest(${param(types)}::text[], ${param(weights)}::float8[]) AS w(type, weight)),
               r AS (SELECT max(i.occurred_at) AS newest FROM ${interactions} i JOIN w ON w.type = i.type WHERE ${USABLE})
          SELECT i.customer_id, i.item_id, sum(w.weight * ${decay})::float8 AS value,
                 extract(epoch FROM max(i.occurred_at))::float8 AS at,
                 (array_agg(i.type ORDER BY w.weight DESC, i.occurred_at DESC))[1] AS type,
                 count(*) AS n
          FROM ${interactions} i JOIN w ON w.type = i.type CROSS JOIN r
          WHERE ${USABLE}
          GROUP BY i.customer_id, i.item_id`,
    );
  }
  return toDataset(params.kind, rows);
}

function toDataset(kind: Dataset['kind'], rows: PairRow[]): Dataset {
  const users = IndexMap.fromIds(rows.map((r) => Number(r.customer_id)));
  const items = IndexMap.fromIds(rows.map((r) => Number(r.item_id)));
  const n = rows.length;
  const userRows = new Int32Array(n);
  const itemRows = new Int32Array(n);
  const values = new Float32Array(n);
  const times = new Float64Array(n);
  const typeCodes = new Uint8Array(n);
  const types: string[] = [];
  const typeIndex = new Map<string, number>();
  let interactionCount = 0;
  rows.forEach((r, i) => {
    userRows[i] = users.row(Number(r.customer_id)) ?? 0;
    itemRows[i] = items.row(Number(r.item_id)) ?? 0;
    values[i] = r.value;
    times[i] = r.at;
    let code = typeIndex.get(r.type);
    if (code === undefined) {
      code = Math.min(types.length, 255);
      typeIndex.set(r.type, code);
      types.push(r.type);
    }
    typeCodes[i] = code;
    interactionCount += Number(r.n);
  });
  return { kind, users, items, userRows, itemRows, values, times, typeCodes, types, interactionCount };
}

/** Refuses data too small to train on, naming the minimum and what was found. */
export function checkEnoughData(data: Dataset): void {
  const pairs = data.userRows.length;
  if (pairs < MINIMUM_DATA.pairs || data.users.size < MINIMUM_DATA.customers || data.items.size < MINIMUM_DATA.items) {
    const what = data.kind === 'explicit' ? 'rated (customer, item) pairs (ratings from 0.5 to 5)' : '(customer, item) pairs with usable interactions of a weighted type';
    throw new InsufficientDataError(
      `training an ${data.kind} model needs at least ${MINIMUM_DATA.pairs} ${what} from at least ${MINIMUM_DATA.customers} customers on at least ${MINIMUM_DATA.items} items; found ${pairs} pairs from ${data.users.size} customers on ${data.items.size} items`,
    );
  }
}

/** The pairs at the given positions, as a dataset over the same index maps. */
export function subset(data: Dataset, positions: Int32Array | number[]): Dataset {
  const n = positions.length;
  const pick = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(source: T, target: T): T => {
    for (let i = 0; i < n; i++) target[i] = source[positions[i] ?? 0] ?? 0;
    return target;
  };
  return {
    ...data,
    userRows: pick(data.userRows, new Int32Array(n)),
    itemRows: pick(data.itemRows, new Int32Array(n)),
    values: pick(data.values, new Float32Array(n)),
    times: pick(data.times, new Float64Array(n)),
    typeCodes: pick(data.typeCodes, new Uint8Array(n)),
  };
}

/** Builds a dataset from plain triplets (tests, benchmarks). */
export function datasetFromPairs(
  kind: Dataset['kind'],
  pairs: readonly { customerId: number; itemId: number; value: number; at?: number; type?: string }[],
): Dataset {
  return toDataset(
    kind,
    pairs.map((p) => ({ customer_id: p.customerId, item_id: p.itemId, value: p.value, at: p.at ?? 0, type: p.type ?? (kind === 'explicit' ? 'rating' : 'view'), n: 1 })),
  );
}
