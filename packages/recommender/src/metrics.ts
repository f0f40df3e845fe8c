// Offline evaluation metrics. Ranking metrics are averaged over the evaluated customers (those
// with at least one held-out item); definitions follow the usual top-k conventions:
//   precision@k = hits in the top k / k
//   recall@k    = hits in the top k / held-out items
//   NDCG@k      = Σ_{hit at rank r (1-based)} 1/log2(r+1)  ÷  Σ_{r ≤ min(k, held-out)} 1/log2(r+1)
//   MAP@k       = Σ_{hit at rank r} (hits in the top r / r)  ÷  min(k, held-out)
//   coverage    = distinct items recommended to anyone / items in the catalogue

export interface RatingMetrics {
  rmse: number;
  mae: number;
  count: number;
}

export function ratingMetrics(predicted: ArrayLike<number>, actual: ArrayLike<number>): RatingMetrics {
  if (predicted.length !== actual.length) throw new RangeError(`predicted has ${predicted.length} values, actual ${actual.length}`);
  const n = actual.length;
  if (n === 0) return { rmse: Number.NaN, mae: Number.NaN, count: 0 };
  let squared = 0;
  let absolute = 0;
  for (let i = 0; i < n; i++) {
    const e = (predicted[i] ?? 0) - (actual[i] ?? 0);
    squared += e * e;
    absolute += Math.abs(e);
  }
  return { rmse: Math.sqrt(squared / n), mae: absolute / n, count: n };
}

export interface RankingMetrics {
  k: number;
  precision: number;
  recall: number;
  ndcg: number;
  map: number;
  coverage: number;
  /** Customers evaluated. */
  users: number;
}

/**
 * Ranking metrics of top-k lists against held-out items. `recommended[u]` is the list for one
 * evaluated customer (best first; only the first k count), `relevant[u]` their held-out items.
 */
export function rankingMetrics(recommended: readonly ArrayLike<number>[], relevant: readonly ReadonlySet<number>[], k: number, catalogueSize: number): RankingMetrics {
  if (recommended.length !== relevant.length) throw new RangeError(`${recommended.length} lists for ${relevant.length} customers`);
  let precision = 0;
  let recall = 0;
  let ndcg = 0;
  let map = 0;
  let users = 0;
  const seen = new Set<number>();
  recommended.forEach((list, u) => {
    const truth = relevant[u];
    if (!truth || truth.size === 0) return;
    users++;
    let hits = 0;
    let dcg = 0;
    let ap = 0;
    const n = Math.min(k, list.length);
    for (let r = 0; r < n; r++) {
      const item = list[r] ?? -1;
      seen.add(item);
      if (truth.has(item)) {
        hits++;
        dcg += 1 / Math.log2(r + 2);
        ap += hits / (r + 1);
      }
    }
    let idcg = 0;
    const ideal = Math.min(k, truth.size);
    for (let r = 0; r < ideal; r++) idcg += 1 / Math.log2(r + 2);
    precision += hits / k;
    recall += hits / truth.size;
    ndcg += idcg > 0 ? dcg / idcg : 0;
    map += ideal > 0 ? ap / ideal : 0;
  });
  const d = Math.max(1, users);
  return {
    k,
    precision: precision / d,
    recall: recall / d,
    ndcg: ndcg / d,
    map: map / d,
    coverage: catalogueSize > 0 ? seen.size / catalogueSize : 0,
    users,
  };
}

/** The metrics under the names the registry stores (`precision@10`, …). */
export function rankingRecord(m: RankingMetrics): Record<string, number> {
  return {
    [`precision@${m.k}`]: m.precision,
    [`recall@${m.k}`]: m.recall,
    [`ndcg@${m.k}`]: m.ndcg,
    [`map@${m.k}`]: m.map,
    coverage: m.coverage,
    users: m.users,
  };
}
