import { ItemScorer } from '@clientele/compute';
import { attachedInteractionSegments, auditLog, customerAliases, customers, interactions, items, selectRows, type DatabaseHandle } from '@clientele/db';
import { DomainError, RATING_MAX, RATING_MIN, type ItemRecord } from '@clientele/domain';
import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import { yieldToEventLoop } from './event-loop.js';
import { Explainer, type Contribution, type ExplainedModel, type ItemRows } from './explain.js';
import { ArtifactError } from './artifact.js';
import { ACTIVATION_CHANNEL, activationHistory, currentActivation, getModelVersion, loadArtifact, type Activation } from './registry.js';

// What each API process holds: the active model's factors (scored natively), the catalogue
// (for filters and the item fields of results), and what customers did since training (so
// seen items stay excluded). The active version is found by polling the activation table every
// few seconds and, on PostgreSQL, at once through LISTEN/NOTIFY. A version whose artifact does
// not verify is refused and the loaded one keeps serving.
//
// Concurrent requests are scored together: while one batch runs on the native threads, new
// requests queue, and the next batch takes them all in one pass over the item factors. A request
// that finds the server quiet (nothing scoring or queued, and no other request for a moment) is
// scored on the event loop instead: one scan of the compact copy (~0.3 ms for 100k × 64) costs
// less than the two thread hand-offs of the batch path, each of which can wait milliseconds for
// a core on a busy machine.

export interface ServingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ModelServerOptions {
  /** How often to look for a newly activated version (ms, default 2000). */
  pollMs?: number;
  /** How often to pick up catalogue changes (ms, default 5000). */
  catalogueMs?: number;
  /** Native threads for scoring (0 = all cores). */
  threads?: number;
  /** Largest `first` served; larger requests are capped (default 100). */
  maxResults?: number;
  /**
   * A request this many ms after the previous one, with nothing scoring or queued, is scored on
   * the event loop (default 1; Infinity: always on the native threads).
   */
  inlineAfterIdleMs?: number;
  logger?: ServingLogger;
}

export interface RecommendationFilter {
  categories?: readonly string[] | null | undefined;
  excludeItemIds?: readonly string[] | null | undefined;
  inStockOnly?: boolean | null | undefined;
  excludeSeen?: boolean | null | undefined;
}

export type RecommendationSource = 'model' | 'popularity';

export interface Reason {
  itemId: number;
  weight: number;
  /** The customer's strongest interaction with that item (purchase, rating, view, …). */
  interaction: string;
}

export interface RecommendationResult {
  /** Internal item id. */
  itemId: number;
  score: number;
  source: RecommendationSource;
  /** A popularity fallback for a customer or item the model has not seen (not when popular items were asked for). */
  coldStart: boolean;
  modelVersion: number | null;
  reasons(): Reason[];
}

export interface RecommendationList {
  customerId: string;
  coldStart: boolean;
  modelVersion: number | null;
  /** Results asked for, after the cap. */
  first: number;
  /** True when `first` was above the cap and was lowered to it. */
  capped: boolean;
  items: RecommendationResult[];
}

/** One entry of a batch: the list, or the error for an unknown customer id. */
export type BatchEntry = RecommendationList | { customerId: string; error: DomainError };

interface Loaded {
  version: number;
  activationId: number;
  /** The artifact without its item matrix: the process holds the item factors once, in `items`. */
  model: ExplainedModel;
  dim: number;
  /** Item factors as scored (explicit: with the item bias appended). */
  scorer: ItemScorer;
  /** The scorer's matrix, as reasons and similar items read it (rows of `dim`, factors first). */
  items: ItemRows;
  queries: Float32Array;
  /** Score offset per user row (explicit: μ + b_u); 0 for implicit. */
  offset: (row: number) => number;
  userRowByExternal: Map<string, number>;
  /** Model row of each internal customer id (fixed for a version, unlike the external ids). */
  userRowById: Map<number, number>;
  itemRowById: Map<number, number>;
  popularity: Int32Array;
  similar: ItemScorer | null;
  /** Items seen since training, by user row (item rows). */
  recent: Map<number, Set<number>>;
  /** Highest interaction id of the live partition (segment 0) already read. */
  lastInteraction: number;
  /** Bulk-loaded segments whose rows are in the model or were read: segment → done. */
  segments: Map<number, { lastId: number; done: boolean }>;
}

interface Pending {
  /** The model the request began with (its query vector and item rows are that model's). */
  loaded: Loaded;
  query: Float32Array;
  exclude: Int32Array;
  k: number;
  resolve: (r: { indices: Int32Array; scores: Float32Array }) => void;
  reject: (e: unknown) => void;
}

/** New interactions read per statement, and statements per poll, to keep seen items current. */
const CATCH_UP_ROWS = 10_000;
const CATCH_UP_CHUNKS = 20;

/** How far back each catalogue refresh looks before the previous one started. */
const CATALOGUE_OVERLAP_MS = 10_000;

/** Catalogue rows read (and mirrored) per statement between yields to the event loop. */
const CATALOGUE_CHUNK = 5_000;

const silent: ServingLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const USABLE = sql`(i.quantity IS NULL OR i.quantity > 0) AND (i.type <> 'rating' OR (i.value BETWEEN ${RATING_MIN} AND ${RATING_MAX}))`;

export class ModelServer {
  private loaded: Loaded | null = null;
  private readonly pollMs: number;
  private readonly catalogueMs: number;
  private readonly threads: number;
  readonly maxResults: number;
  private readonly logger: ServingLogger;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private started: Promise<void> | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  /** Activation ids that failed to load: not retried until another activation. */
  private readonly refused = new Set<number>();
  /** Failed loads per activation id that were not (yet) refused. */
  private readonly loadFailures = new Map<number, number>();
  private listener: { release(): void } | null = null;
  private listening = false;
  // The catalogue mirror.
  private readonly catalogue = new Map<number, ItemRecord>();
  private readonly itemByExternal = new Map<string, number>();
  private categories = new Map<string, number[]>();
  private catalogueStamp = 0;
  /** The database's clock when the previous catalogue refresh started. */
  private cataloguePolledAt: Date | null = null;
  private auditSince: Date = new Date();
  private candidateCache = new Map<string, Int32Array>();
  private pending: Pending[] = [];
  private scoring = false;
  private readonly inlineAfterIdleMs: number;
  /** When score() was last called (performance.now()). */
  private lastScoreAt = Number.NEGATIVE_INFINITY;
  private dbPopular: { at: number; ids: number[] } | null = null;
  /** Batches scored and requests in them, requests scored on the event loop, models loaded and refused (for tests and diagnosis). */
  readonly stats = { batches: 0, requests: 0, inline: 0, loads: 0, refusedLoads: 0 };

  constructor(
    private readonly database: DatabaseHandle,
    options: ModelServerOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 2000;
    this.catalogueMs = options.catalogueMs ?? 5000;
    this.threads = options.threads ?? 0;
    this.maxResults = options.maxResults ?? 100;
    this.inlineAfterIdleMs = options.inlineAfterIdleMs ?? 1;
    if (!(this.inlineAfterIdleMs >= 0)) throw new RangeError(`ModelServer: inlineAfterIdleMs: expected a number of ms ≥ 0 (or Infinity), got ${this.inlineAfterIdleMs}`);
    this.logger = options.logger ?? silent;
  }

  private get db() {
    return this.database.db;
  }

  /** Loads the catalogue and the active version, then keeps them current. Idempotent. */
  start(): Promise<void> {
    if (!this.started) {
      this.started = (async () => {
        await this.refreshCatalogue();
        await this.refresh();
        this.timers.push(setInterval(() => void this.tick(), this.pollMs).unref());
        this.timers.push(setInterval(() => void this.refreshCatalogue().catch((error: unknown) => this.onError(error, 'catalogue refresh failed')), this.catalogueMs).unref());
      })();
    }
    return this.started;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.listener?.release();
    this.listener = null;
  }

  /** The version being served (null: none loaded). */
  get activeVersion(): number | null {
    return this.loaded?.version ?? null;
  }

  private closed(): boolean {
    const d = this.database.driver;
    return this.stopped || (d.kind === 'postgres' ? d.pool.ending : d.client.closed);
  }

  private onError(error: unknown, message: string): void {
    if (this.closed()) {
      this.stop();
      return;
    }
    this.logger.error({ err: error }, message);
  }

  private async tick(): Promise<void> {
    if (this.closed()) return this.stop();
    try {
      await this.ensureListening();
      await this.refresh();
      await this.catchUp();
    } catch (error) {
      this.onError(error, 'recommender refresh failed');
    }
  }

  /** LISTEN on PostgreSQL so activations arrive at once (polling stays as the safety net). */
  private async ensureListening(): Promise<void> {
    const d = this.database.driver;
    if (d.kind !== 'postgres' || this.listening || this.stopped) return;
    this.listening = true;
    try {
      const client = await d.pool.connect();
      let released = false;
      const release = (error?: Error) => {
        if (released) return;
        released = true;
        this.listener = null;
        this.listening = false;
        client.removeAllListeners('notification');
        client.release(error ?? true);
      };
      client.on('notification', () => void this.refresh().catch((error: unknown) => this.onError(error, 'recommender refresh failed')));
      client.on('error', (error: Error) => release(error));
      await client.query(`LISTEN ${ACTIVATION_CHANNEL}`);
      this.listener = { release: () => release() };
      // When the pool is being closed, give the connection back at once so close() is not held up.
      d.pool.once('remove', () => {
        if (d.pool.ending) release();
      });
      if (this.stopped) release();
    } catch (error) {
      this.listening = false;
      throw error;
    }
  }

  /** Loads the newest activation when it differs from what is served. Safe to call often. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.refreshOnce();
        } while (this.refreshAgain && !this.stopped);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    const activation = await currentActivation(this.db);
    if (!activation) return;
    const loaded = this.loaded;
    if (loaded && loaded.activationId === activation.id) return;
    if (loaded && loaded.version === activation.version) {
      loaded.activationId = activation.id;
      return;
    }
    if (this.refused.has(activation.id)) return;
    try {
      const started = performance.now();
      this.loaded = await this.load(activation.version, activation.id);
      this.stats.loads++;
      this.logger.info({ version: activation.version, ms: Math.round(performance.now() - started) }, 'recommender model loaded');
    } catch (error) {
      // A corrupt artifact stays corrupt: refused at once. Another failure (the database gone
      // mid-load, say) is tried again at the next refresh, three times in all.
      const failures = (this.loadFailures.get(activation.id) ?? 0) + 1;
      this.loadFailures.set(activation.id, failures);
      if (error instanceof ArtifactError || failures >= 3) {
        this.refused.add(activation.id);
        this.stats.refusedLoads++;
        this.logger.error({ err: error, version: activation.version, serving: loaded?.version ?? null }, 'recommender model refused; the previous version keeps serving');
      } else {
        this.logger.warn({ err: error, version: activation.version, serving: loaded?.version ?? null, failures }, 'recommender model could not be loaded; trying again at the next refresh');
      }
      // A process that starts after the refused activation has no previous version in memory:
      // it serves the newest earlier activation that loads, as the running processes do.
      if (!loaded) await this.loadEarlier(activation);
    }
  }

  /** Loads the newest activation before `refused` that names another version and verifies (a few tries at most). */
  private async loadEarlier(refused: Activation): Promise<void> {
    const tried = new Set([refused.version]);
    for (const earlier of await activationHistory(this.db, 50)) {
      if (earlier.id >= refused.id || tried.has(earlier.version)) continue;
      if (tried.size > 5 || this.stopped) return;
      tried.add(earlier.version);
      try {
        this.loaded = await this.load(earlier.version, earlier.id);
        this.stats.loads++;
        this.logger.warn({ version: earlier.version, refused: refused.version }, 'recommender model loaded from an earlier activation: the newest one was refused');
        return;
      } catch (error) {
        this.logger.error({ err: error, version: earlier.version }, 'recommender model of an earlier activation could not be loaded either');
        // Not corrupt (the database, say): the next version would fail the same way.
        if (!(error instanceof ArtifactError)) return;
        this.stats.refusedLoads++;
      }
    }
  }

  private async load(version: number, activationId: number): Promise<Loaded> {
    const model = await loadArtifact(this.db, version);
    const meta = await getModelVersion(this.db, version);
    const f = model.factors;
    const nUsers = model.userIds.length;
    const nItems = model.itemIds.length;
    let dim = f;
    let itemMatrix = model.itemFactors;
    let queries = model.userFactors;
    let offset: (row: number) => number = () => 0;
    if (model.kind === 'explicit' && model.itemBias && model.userBias) {
      // Predicted rating = μ + b_u + b_i + x·y: rank by [x, 1]·[y, b_i], add μ + b_u back for the score.
      dim = f + 1;
      itemMatrix = new Float32Array(nItems * dim);
      for (let i = 0; i < nItems; i++) {
        itemMatrix.set(model.itemFactors.subarray(i * f, (i + 1) * f), i * dim);
        itemMatrix[i * dim + f] = model.itemBias[i] ?? 0;
      }
      queries = new Float32Array(nUsers * dim);
      for (let u = 0; u < nUsers; u++) {
        queries.set(model.userFactors.subarray(u * f, (u + 1) * f), u * dim);
        queries[u * dim + f] = 1;
      }
      const userBias = model.userBias;
      const mean = model.globalMean;
      offset = (row) => mean + (userBias[row] ?? 0);
    }
    const scorer = new ItemScorer(itemMatrix, dim);
    // The rest of serving (reasons, similar items) reads the scorer's pinned copy, so the
    // artifact's own item matrix is dropped here instead of being held as well.
    const { itemFactors: _stored, ...served } = model;
    const itemRowById = new Map<number, number>();
    model.itemIds.forEach((id, row) => itemRowById.set(id, row));
    const userRowById = new Map<number, number>();
    model.userIds.forEach((id, row) => userRowById.set(id, row));
    const popularity = Int32Array.from({ length: nItems }, (_, i) => i).sort((a, b) => (model.popularity[b] ?? 0) - (model.popularity[a] ?? 0) || a - b);
    const loaded: Loaded = {
      version,
      activationId,
      model: served,
      dim,
      scorer,
      items: { data: scorer.itemFactors, stride: dim },
      queries,
      offset,
      userRowByExternal: await this.customerRows(served, userRowById),
      userRowById,
      itemRowById,
      popularity,
      similar: null,
      recent: new Map(),
      lastInteraction: Number((meta?.data['maxInteractionId'] as number | undefined) ?? 0),
      segments: new Map(),
    };
    // Segments attached when the model was trained are in it; a version trained before
    // segments were recorded is taken to include those attached now.
    const trained = meta?.data['segments'];
    for (const segment of Array.isArray(trained) ? trained.map(Number) : await attachedInteractionSegments(this.db)) {
      loaded.segments.set(segment, { lastId: 0, done: true });
    }
    await this.catchUp(loaded);
    this.candidateCache = new Map();
    return loaded;
  }

  /** External id → user row for the model's customers that still exist. */
  private async customerRows(model: ExplainedModel, rowById: Map<number, number>): Promise<Map<string, number>> {
    const map = new Map<string, number>();
    const ids = [...model.userIds];
    for (let i = 0; i < ids.length; i += 50_000) {
      const chunk = ids.slice(i, i + 50_000);
      const rows = await this.db.select({ id: customers.id, externalId: customers.externalId }).from(customers).where(inArray(customers.id, chunk));
      for (const r of rows) {
        const row = rowById.get(r.id);
        if (row !== undefined) map.set(r.externalId, row);
      }
    }
    return map;
  }

  /**
   * Picks up what happened since the last look: interactions (their items count as seen) and
   * erasures or merges (the customer map is rebuilt, so an erased customer is never served).
   */
  private async catchUp(target: Loaded | null = this.loaded): Promise<void> {
    if (!target) return;
    // In chunks, yielding between them: after a bulk import, reading 100k rows in one go held
    // the event loop for ~300 ms. At most CATCH_UP_CHUNKS per poll; the rest on the next.
    const seen = (rows: { customerId: number; itemId: number }[]) => {
      for (const r of rows) {
        const u = target.userRowById.get(r.customerId);
        const i = target.itemRowById.get(r.itemId);
        if (u === undefined || i === undefined) continue;
        let set = target.recent.get(u);
        if (!set) target.recent.set(u, (set = new Set()));
        set.add(i);
      }
    };
    /** The next rows of one partition after an id. */
    const rowsAfter = (segment: number, after: number) =>
      this.db
        .select({ id: interactions.id, customerId: interactions.customerId, itemId: interactions.itemId })
        .from(interactions)
        .where(and(eq(interactions.segment, segment), gt(interactions.id, after)))
        .orderBy(interactions.id)
        .limit(CATCH_UP_ROWS);
    let budget = CATCH_UP_CHUNKS;
    // The live partition, by id.
    for (; budget > 0; budget--) {
      const fresh = await rowsAfter(0, target.lastInteraction);
      if (fresh.length === 0) break;
      seen(fresh);
      target.lastInteraction = fresh[fresh.length - 1]?.id ?? target.lastInteraction;
      if (fresh.length < CATCH_UP_ROWS) break;
      await yieldToEventLoop();
    }
    // Partitions attached by bulk loads since: all their rows are new to the model.
    for (const segment of await attachedInteractionSegments(this.db)) {
      if (segment !== 0 && !target.segments.has(segment)) target.segments.set(segment, { lastId: 0, done: false });
    }
    for (const [segment, progress] of target.segments) {
      while (!progress.done && budget > 0) {
        budget--;
        const fresh = await rowsAfter(segment, progress.lastId);
        seen(fresh);
        progress.lastId = fresh[fresh.length - 1]?.id ?? progress.lastId;
        progress.done = fresh.length < CATCH_UP_ROWS;
        await yieldToEventLoop();
      }
    }
    const since = this.auditSince;
    const changes = await this.db
      .select({ at: auditLog.occurredAt })
      .from(auditLog)
      .where(and(gt(auditLog.occurredAt, since), inArray(auditLog.operation, ['customer.erase', 'customers.merge'])))
      .orderBy(desc(auditLog.occurredAt))
      .limit(1);
    if (changes[0]) {
      this.auditSince = changes[0].at;
      target.userRowByExternal = await this.customerRows(target.model, target.userRowById);
    }
  }

  /** Mirrors changed catalogue rows (all of them the first time). */
  async refreshCatalogue(): Promise<void> {
    // Rows changed since the previous refresh started (by the database's clock), with an overlap
    // for transactions that committed late with an earlier updated_at. The newest updated_at
    // seen is not used as the watermark: after a bulk load it stays put, and every refresh
    // fetched the whole batch again (100k items every 5 s stalled serving).
    const [clock] = await selectRows<{ now: Date | string }>(this.db, sql`SELECT now() AS now`);
    const startedAt = clock ? new Date(clock.now) : new Date();
    const since = this.cataloguePolledAt ? new Date(this.cataloguePolledAt.getTime() - CATALOGUE_OVERLAP_MS) : null;
    // Everything runs in chunks with the event loop free in between: reading and mapping 100k
    // rows in one go held requests for about half a second after every bulk catalogue change.
    // Within the overlap most rows are already mirrored, so only ids and stamps are read first
    // and full rows fetched for those that differ.
    let stale: number[] | null = null;
    if (since) {
      stale = [];
      for (let after = 0; ; ) {
        const stamps = await selectRows<{ id: number | string; ms: number | string }>(
          this.db,
          sql`SELECT id, floor(extract(epoch FROM updated_at) * 1000)::float8 AS ms FROM items
              WHERE updated_at > ${since} AND id > ${after} ORDER BY id LIMIT ${CATALOGUE_CHUNK}`,
        );
        for (const stamp of stamps) {
          const id = Number(stamp.id);
          // updatedAt as mirrored is the driver's Date, i.e. truncated to the millisecond.
          if (this.catalogue.get(id)?.updatedAt.getTime() !== Number(stamp.ms)) stale.push(id);
        }
        if (stamps.length < CATALOGUE_CHUNK) break;
        after = Number(stamps[stamps.length - 1]?.id ?? after);
        await yieldToEventLoop();
      }
    }
    let changed = false;
    const mirror = (rows: ItemRecord[]) => {
      for (const row of rows) {
        this.catalogue.set(row.id, row);
        this.itemByExternal.set(row.externalId, row.id);
        changed = true;
      }
    };
    if (stale === null) {
      for (let after = 0; ; ) {
        const rows = await this.db.select().from(items).where(gt(items.id, after)).orderBy(asc(items.id)).limit(CATALOGUE_CHUNK);
        mirror(rows);
        if (rows.length < CATALOGUE_CHUNK) break;
        after = rows[rows.length - 1]?.id ?? after;
        await yieldToEventLoop();
      }
    } else {
      for (let i = 0; i < stale.length; i += CATALOGUE_CHUNK) {
        mirror(await this.db.select().from(items).where(inArray(items.id, stale.slice(i, i + CATALOGUE_CHUNK))));
        await yieldToEventLoop();
      }
    }
    this.cataloguePolledAt = startedAt;
    if (changed) {
      const categories = new Map<string, number[]>();
      let n = 0;
      for (const row of this.catalogue.values()) {
        for (const c of row.categories) {
          let list = categories.get(c);
          if (!list) categories.set(c, (list = []));
          list.push(row.id);
        }
        if (++n % CATALOGUE_CHUNK === 0) await yieldToEventLoop();
      }
      this.categories = categories;
      this.catalogueStamp++;
      this.candidateCache = new Map();
    }
  }

  /** A catalogue item by internal id (what the GraphQL item field shows). */
  item(id: number): ItemRecord | undefined {
    return this.catalogue.get(id);
  }

  /** Caps `first`: below 1 is an error, above the cap is lowered to it. */
  capFirst(first: number | null | undefined, fallback = 10): { first: number; capped: boolean } {
    const n = first ?? fallback;
    if (!Number.isInteger(n) || n < 1) throw new DomainError('BAD_USER_INPUT', `first: expected a whole number from 1 to ${this.maxResults} (larger values are capped), got ${n}`, 'first');
    return n > this.maxResults ? { first: this.maxResults, capped: true } : { first: n, capped: false };
  }

  /** The categories asked for, each one that some item has; `field` names the argument in the error. */
  private checkCategories(categories: readonly string[] | null | undefined, field = 'filter.categories'): string[] | null {
    if (!categories || categories.length === 0) return null;
    const unknown = categories.filter((c) => !this.categories.has(c));
    if (unknown.length > 0) {
      const known = [...this.categories.keys()].sort();
      const shown = known.slice(0, 20).join(', ') + (known.length > 20 ? `, … (${known.length} in all)` : '');
      throw new DomainError('BAD_USER_INPUT', `${field}: no item has the categor${unknown.length > 1 ? 'ies' : 'y'} ${unknown.map((c) => `'${c}'`).join(', ')}; expected one of ${shown || '(none: the catalogue has no categories)'}`, field);
    }
    return [...categories];
  }

  private inStock(itemId: number): boolean {
    return this.catalogue.get(itemId)?.inStock ?? true;
  }

  /** Model rows of the items in any of the categories (and in stock when asked). */
  private candidates(loaded: Loaded, categories: string[], inStockOnly: boolean): Int32Array {
    const key = `${inStockOnly ? 1 : 0}|${[...categories].sort().join('\u0000')}`;
    let rows = this.candidateCache.get(key);
    if (!rows) {
      const set = new Set<number>();
      for (const c of categories) {
        for (const id of this.categories.get(c) ?? []) {
          const row = loaded.itemRowById.get(id);
          if (row !== undefined && (!inStockOnly || this.inStock(id))) set.add(row);
        }
      }
      rows = Int32Array.from(set).sort();
      if (this.candidateCache.size > 1000) this.candidateCache.clear();
      this.candidateCache.set(key, rows);
    }
    return rows;
  }

  /** Resolves a customer's external id: the model row, or null for a customer the model has not seen. */
  private async customerRow(loaded: Loaded | null, externalId: string): Promise<number | null> {
    const row = loaded?.userRowByExternal.get(externalId);
    if (row !== undefined) return row;
    const [found] = await this.db.select({ id: customers.id }).from(customers).where(eq(customers.externalId, externalId));
    let id = found?.id;
    if (id === undefined) {
      const [alias] = await this.db.select({ id: customerAliases.customerId }).from(customerAliases).where(eq(customerAliases.externalId, externalId));
      id = alias?.id;
    }
    if (id === undefined) throw new DomainError('NOT_FOUND', `customerId: no customer '${externalId}'`, 'customerId');
    if (loaded) {
      const r = loaded.model.userIds.indexOf(id);
      if (r >= 0 && found === undefined) return r; // a merged id: the survivor's row
    }
    return null;
  }

  /** Recommendations for one customer. */
  async recommend(customerId: string, first: number | null | undefined, filter: RecommendationFilter | null | undefined = {}): Promise<RecommendationList> {
    await this.start();
    const { first: k, capped } = this.capFirst(first);
    const loaded = this.loaded;
    const categories = this.checkCategories(filter?.categories);
    const inStockOnly = filter?.inStockOnly === true;
    const excludeSeen = filter?.excludeSeen !== false;
    const excludedIds = new Set<number>();
    for (const ext of filter?.excludeItemIds ?? []) {
      const id = this.itemByExternal.get(ext);
      if (id !== undefined) excludedIds.add(id);
    }
    const userRow = await this.customerRow(loaded, customerId);
    const base = { customerId, first: k, capped };
    if (!loaded || userRow === null) {
      const popular = await this.popular(k, categories, inStockOnly, (id) => excludedIds.has(id));
      return { ...base, coldStart: true, modelVersion: loaded?.version ?? null, items: popular };
    }
    const model = loaded.model;
    const exclude: number[] = [];
    if (excludeSeen) {
      for (let p = model.seenIndptr[userRow] ?? 0; p < (model.seenIndptr[userRow + 1] ?? 0); p++) exclude.push(model.seenItems[p] ?? 0);
      for (const r of loaded.recent.get(userRow) ?? []) exclude.push(r);
    }
    for (const id of excludedIds) {
      const r = loaded.itemRowById.get(id);
      if (r !== undefined) exclude.push(r);
    }
    const query = loaded.queries.subarray(userRow * loaded.dim, (userRow + 1) * loaded.dim);
    const excludeRows = Int32Array.from(exclude);
    let rows: Int32Array;
    let scores: Float32Array;
    if (categories) {
      const top = loaded.scorer.topK(query, { k, exclude: excludeRows, candidates: this.candidates(loaded, categories, inStockOnly), threads: 1 });
      rows = top.indices;
      scores = top.scores;
    } else if (inStockOnly) {
      // Over-fetch, drop out-of-stock items; fall back to an exact candidate scan when too many drop.
      const top = await this.score(loaded, query, excludeRows, Math.min(loaded.model.itemIds.length, k * 2 + 20));
      const keep: number[] = [];
      for (let i = 0; i < top.indices.length && keep.length < k; i++) if (this.inStock(model.itemIds[top.indices[i] ?? 0] ?? 0)) keep.push(i);
      if (keep.length < k && top.indices.length >= k * 2 + 20) {
        const inStockRows = Int32Array.from({ length: model.itemIds.length }, (_, r) => r).filter((r) => this.inStock(model.itemIds[r] ?? 0));
        const exact = loaded.scorer.topK(query, { k, exclude: excludeRows, candidates: inStockRows, threads: 1 });
        rows = exact.indices;
        scores = exact.scores;
      } else {
        rows = Int32Array.from(keep, (i) => top.indices[i] ?? 0);
        scores = Float32Array.from(keep, (i) => top.scores[i] ?? 0);
      }
    } else {
      const top = await this.score(loaded, query, excludeRows, k);
      rows = top.indices;
      scores = top.scores;
    }
    const offset = loaded.offset(userRow);
    let explainer: Explainer | null = null;
    const explain = (row: number): Reason[] => {
      explainer ??= new Explainer(model, userRow, loaded.items);
      return explainer.contributions(row).map((c: Contribution) => ({ itemId: model.itemIds[c.row] ?? 0, weight: c.weight, interaction: c.type }));
    };
    const results: RecommendationResult[] = [];
    rows.forEach((row, i) => {
      const itemId = model.itemIds[row] ?? 0;
      results.push({ itemId, score: (scores[i] ?? 0) + offset, source: 'model', coldStart: false, modelVersion: loaded.version, reasons: () => explain(row) });
    });
    return { ...base, coldStart: false, modelVersion: loaded.version, items: results };
  }

  /** Recommendations for many customers at once (scored together); unknown ids get an error each. */
  async recommendMany(customerIds: readonly string[], first: number | null | undefined, filter?: RecommendationFilter | null): Promise<BatchEntry[]> {
    if (customerIds.length > 1000) throw new DomainError('BAD_USER_INPUT', `customerIds: expected at most 1,000 ids, got ${customerIds.length}`, 'customerIds');
    this.capFirst(first);
    return Promise.all(
      customerIds.map(async (id) => {
        try {
          return await this.recommend(id, first, filter);
        } catch (error) {
          if (error instanceof DomainError && error.code === 'NOT_FOUND') return { customerId: id, error };
          throw error;
        }
      }),
    );
  }

  /** Top-k by dot product: on the event loop when the server is quiet, else batched with whatever else is waiting. */
  private score(loaded: Loaded, query: Float32Array, exclude: Int32Array, k: number): Promise<{ indices: Int32Array; scores: Float32Array }> {
    const now = performance.now();
    const quiet = this.inlineAfterIdleMs !== Number.POSITIVE_INFINITY && now - this.lastScoreAt >= this.inlineAfterIdleMs;
    this.lastScoreAt = now;
    if (quiet && !this.scoring && this.pending.length === 0) {
      this.stats.inline++;
      try {
        const top = loaded.scorer.topK(query, { k, exclude, threads: 1 });
        return Promise.resolve({ indices: top.indices, scores: top.scores });
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ loaded, query, exclude, k, resolve, reject });
      if (!this.scoring) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.scoring = true;
    try {
      while (this.pending.length > 0) {
        // One model per batch: a request that began before an activation is scored with the
        // model it began with (its query and item rows are that model's), in a batch of its own.
        const loaded = this.pending[0]!.loaded;
        const batch = this.pending.filter((p) => p.loaded === loaded);
        this.pending = this.pending.filter((p) => p.loaded !== loaded);
        this.stats.batches++;
        this.stats.requests += batch.length;
        try {
          const dim = loaded.dim;
          const k = Math.max(...batch.map((p) => p.k));
          const queries = new Float32Array(batch.length * dim);
          batch.forEach((p, i) => queries.set(p.query, i * dim));
          const top = await loaded.scorer.topKBatch(queries, { k, exclude: batch.map((p) => p.exclude), threads: this.threads });
          batch.forEach((p, i) => {
            const n = Math.min(p.k, top.counts[i] ?? 0);
            p.resolve({ indices: top.indices.slice(i * top.k, i * top.k + n), scores: top.scores.slice(i * top.k, i * top.k + n) });
          });
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.scoring = false;
    }
  }

  /** The most popular items, optionally of one category (`popularItems`): not a fallback, so not marked cold start. */
  async popularItems(first: number | null | undefined, category: string | null | undefined): Promise<{ first: number; capped: boolean; items: RecommendationResult[] }> {
    await this.start();
    const { first: k, capped } = this.capFirst(first);
    const categories = category === null || category === undefined ? null : this.checkCategories([category], 'category');
    return { first: k, capped, items: await this.popular(k, categories, false, undefined, false) };
  }

  /**
   * Most popular items (training pairs in the served model; or, with no model, distinct
   * customers in the usable interactions), optionally within categories and in stock; marked
   * as cold-start fallbacks unless `fallback` is false.
   */
  private async popular(k: number, categories: readonly string[] | null, inStockOnly: boolean, skip: (itemId: number) => boolean = () => false, fallback = true): Promise<RecommendationResult[]> {
    await this.start();
    const loaded = this.loaded;
    const wanted = categories ? new Set(categories) : null;
    const out: RecommendationResult[] = [];
    const offer = (itemId: number, score: number) => {
      if (out.length >= k || skip(itemId)) return;
      const record = this.catalogue.get(itemId);
      if (wanted && !record?.categories.some((c) => wanted.has(c))) return;
      if (inStockOnly && record && !record.inStock) return;
      out.push({ itemId, score, source: 'popularity', coldStart: fallback, modelVersion: loaded?.version ?? null, reasons: () => [] });
    };
    if (loaded) {
      const total = loaded.model.seenItems.length || 1;
      for (const row of loaded.popularity) {
        if (out.length >= k) break;
        offer(loaded.model.itemIds[row] ?? 0, (loaded.model.popularity[row] ?? 0) / total);
      }
    } else {
      for (const [rank, id] of (await this.databasePopular()).entries()) offer(id, 1 / (rank + 1));
    }
    // Items nobody has touched yet fill the rest (newest catalogue rows first).
    if (out.length < k) {
      const seen = new Set(out.map((r) => r.itemId));
      const rest = [...this.catalogue.values()].filter((r) => !seen.has(r.id)).sort((a, b) => b.id - a.id);
      for (const r of rest) offer(r.id, 0);
    }
    return out;
  }

  private async databasePopular(): Promise<number[]> {
    if (this.dbPopular && Date.now() - this.dbPopular.at < 60_000) return this.dbPopular.ids;
    const rows = await selectRows<{ item_id: number | string }>(
      this.db,
      sql`SELECT i.item_id FROM ${interactions} i WHERE ${USABLE} GROUP BY i.item_id ORDER BY count(DISTINCT i.customer_id) DESC, i.item_id LIMIT 5000`,
    );
    this.dbPopular = { at: Date.now(), ids: rows.map((r) => Number(r.item_id)) };
    return this.dbPopular.ids;
  }

  /** Items most similar to one item by factor cosine; an item the model has not seen gets popular items of its categories. */
  async similar(itemExternalId: string, first: number | null | undefined): Promise<{ coldStart: boolean; first: number; capped: boolean; items: RecommendationResult[] }> {
    await this.start();
    const { first: k, capped } = this.capFirst(first);
    let id = this.itemByExternal.get(itemExternalId);
    if (id === undefined) {
      const [row] = await this.db.select({ id: items.id }).from(items).where(eq(items.externalId, itemExternalId));
      if (!row) throw new DomainError('NOT_FOUND', `itemId: no item '${itemExternalId}'`, 'itemId');
      await this.refreshCatalogue();
      id = row.id;
    }
    const loaded = this.loaded;
    const row = loaded?.itemRowById.get(id);
    if (!loaded || row === undefined) {
      const categories = this.catalogue.get(id)?.categories ?? [];
      const self = id;
      const popular = await this.popular(k, categories.length > 0 ? categories : null, false, (other) => other === self);
      return { coldStart: true, first: k, capped, items: popular };
    }
    if (!loaded.similar) {
      // Unit-length copies of the item factors (without an explicit model's bias): cosine
      // becomes a dot product.
      const f = loaded.model.factors;
      const { data: rows, stride } = loaded.items;
      const unit = new Float32Array(loaded.model.itemIds.length * f);
      for (let r = 0; r < loaded.model.itemIds.length; r++) {
        let norm = 0;
        for (let j = 0; j < f; j++) norm += (rows[r * stride + j] ?? 0) ** 2;
        const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
        for (let j = 0; j < f; j++) unit[r * f + j] = (rows[r * stride + j] ?? 0) * s;
      }
      loaded.similar = new ItemScorer(unit, f);
    }
    const f = loaded.model.factors;
    const similar = loaded.similar;
    const top = similar.topK(similar.itemFactors.subarray(row * f, (row + 1) * f), { k, exclude: Int32Array.of(row) });
    const results = Array.from(top.indices, (r, i): RecommendationResult => ({
      itemId: loaded.model.itemIds[r] ?? 0,
      score: top.scores[i] ?? 0,
      source: 'model',
      coldStart: false,
      modelVersion: loaded.version,
      reasons: () => [],
    }));
    return { coldStart: false, first: k, capped, items: results };
  }
}
