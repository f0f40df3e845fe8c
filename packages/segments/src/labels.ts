import type { FeatureName } from './features.js';

// Plain-language labels for k-means segments, from where each segment's medians sit in the
// distribution of all customers in the run (percentile ranks). The thresholds are the
// documented meaning of the words, so a label can be checked against its figures:
//
//   recent  : median recency below the 40th percentile of all customers' recency
//   lapsing : between the 40th and 70th percentile;  dormant: at or above the 70th
//   high value / big spenders : median revenue at or above the 60th percentile
//   mid value : 35th–60th percentile;  low value : below the 35th
//   one purchase : median orders ≤ 1;  new : median tenure below the 35th percentile

export type RecencyLevel = 'recent' | 'lapsing' | 'dormant';
export type ValueLevel = 'high' | 'mid' | 'low';

export const LABEL_THRESHOLDS = {
  recentBelow: 0.4,
  dormantFrom: 0.7,
  highValueFrom: 0.6,
  lowValueBelow: 0.35,
  newBelow: 0.35,
} as const;

export interface SegmentPosition {
  recency: RecencyLevel;
  value: ValueLevel;
  onePurchase: boolean;
  isNew: boolean;
  /** Percentile ranks (0–1) of the segment's medians among all customers of the run. */
  ranks: Partial<Record<FeatureName, number>>;
}

export function positionOf(ranks: Partial<Record<FeatureName, number>>, medianFrequency: number): SegmentPosition {
  const r = ranks.recency_days ?? 0.5;
  const m = ranks.monetary ?? 0.5;
  const t = ranks.tenure_days ?? 0.5;
  const t0 = LABEL_THRESHOLDS;
  return {
    recency: r < t0.recentBelow ? 'recent' : r < t0.dormantFrom ? 'lapsing' : 'dormant',
    value: m >= t0.highValueFrom ? 'high' : m >= t0.lowValueBelow ? 'mid' : 'low',
    onePurchase: medianFrequency <= 1,
    isNew: t < t0.newBelow,
    ranks,
  };
}

/** The label for one position (before telling apart segments that share it). */
export function baseLabel(p: SegmentPosition): string {
  switch (p.recency) {
    case 'dormant':
      return p.value === 'high' ? 'Dormant big spenders' : 'Dormant';
    case 'lapsing':
      return p.value === 'high' ? 'Lapsing big spenders' : p.value === 'mid' ? 'Lapsing, mid value' : 'Lapsing, low value';
    case 'recent':
      if (p.onePurchase && p.isNew && p.value !== 'high') return 'New, one purchase';
      return p.value === 'high' ? 'High value, recent' : p.value === 'mid' ? 'Active, mid value' : 'Recent, low value';
  }
}

/** Words for the highest, middle and lowest of segments sharing a label, by feature. */
const QUALIFIERS: [FeatureName, [string, string, string]][] = [
  ['monetary', ['higher spend', 'mid spend', 'lower spend']],
  ['frequency', ['more frequent', 'moderately frequent', 'less frequent']],
  ['tenure_days', ['longer-standing', 'mid tenure', 'newer']],
  ['recency_days', ['less recent', 'mid recency', 'more recent']],
  ['avg_order_value', ['bigger baskets', 'mid baskets', 'smaller baskets']],
  ['views_30d', ['more browsing', 'some browsing', 'less browsing']],
  ['distinct_categories', ['broader', 'mid breadth', 'narrower']],
];

/**
 * Labels for all segments: the base label from each position, and where two or more segments
 * share one, a qualifier from the feature on which they differ most ("higher spend" …).
 */
export function labelSegments(positions: SegmentPosition[]): string[] {
  const labels = positions.map(baseLabel);
  const groups = new Map<string, number[]>();
  labels.forEach((label, i) => groups.set(label, [...(groups.get(label) ?? []), i]));
  for (const [label, members] of groups) {
    if (members.length < 2) continue;
    let best: [FeatureName, [string, string, string]] | null = null;
    let spread = -1;
    for (const qualifier of QUALIFIERS) {
      const ranks = members.map((i) => positions[i]?.ranks[qualifier[0]]).filter((v): v is number => v !== undefined);
      if (ranks.length !== members.length) continue;
      const s = Math.max(...ranks) - Math.min(...ranks);
      if (s > spread) {
        spread = s;
        best = qualifier;
      }
    }
    if (!best) continue;
    const [feature, words] = best;
    const order = [...members].sort((a, b) => (positions[b]?.ranks[feature] ?? 0) - (positions[a]?.ranks[feature] ?? 0));
    order.forEach((i, place) => {
      const word = place === 0 ? words[0] : place === order.length - 1 ? words[2] : words[1];
      labels[i] = `${label} (${word})`;
    });
  }
  // Still equal (three or more alike on every feature): number them.
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label} #${n}`;
  });
}
