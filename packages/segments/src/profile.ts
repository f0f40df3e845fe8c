import type { Executor } from '@clientele/db';
import { FEATURES_VERSION, FEATURE_DEFINITIONS, customerFeatures, defaultReferenceDate, type FeatureDefinition, type FeatureName } from './features.js';
import { optionalDate, windowDays } from './input.js';

// A customer's features as the profile shows them: every defined feature with its unit, as of
// a reference date (default: the latest interaction) over a window.

export interface ProfileFeatures {
  featuresVersion: number;
  referenceDate: Date;
  windowDays: number;
  values: { name: FeatureName; value: number | null; unit: FeatureDefinition['unit'] }[];
}

export async function profileFeatures(db: Executor, customerId: number, options: { referenceDate?: unknown; windowDays?: unknown } = {}): Promise<ProfileFeatures> {
  const days = windowDays('windowDays', options.windowDays);
  const referenceDate = optionalDate('referenceDate', options.referenceDate) ?? (await defaultReferenceDate(db));
  const values = await customerFeatures(db, customerId, { referenceDate, windowDays: days });
  return {
    featuresVersion: FEATURES_VERSION,
    referenceDate,
    windowDays: days,
    values: FEATURE_DEFINITIONS.map((d) => ({ name: d.name, value: values[d.name], unit: d.unit })),
  };
}
