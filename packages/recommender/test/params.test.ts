import { describe, expect, it } from 'vitest';
import { modelParamsOf, parseTrainingParams, sampleParams, random } from '../src/index.js';

describe('training settings: frequency-scaled regularisation', () => {
  it('implicit defaults scale λ by each row’s pairs; explicit leaves them off', () => {
    const implicit = parseTrainingParams({ kind: 'implicit' });
    expect(implicit).toMatchObject({ factors: 64, iterations: 15, regularization: 0.1, alpha: 1, regularizationExponent: 1, regularizationOffset: 100 });
    const explicit = parseTrainingParams({ kind: 'explicit' });
    expect(explicit).toMatchObject({ regularizationExponent: 0, regularizationOffset: 0 });
  });

  it('takes given values and carries them into the model settings', () => {
    const p = parseTrainingParams({ kind: 'implicit', regularization: 15, regularizationExponent: 0, regularizationOffset: 0 });
    expect(modelParamsOf(p)).toEqual({ factors: 64, iterations: 15, regularization: 15, alpha: 1, regularizationExponent: 0, regularizationOffset: 0 });
  });

  it('refuses bad values, naming the field, the range and what was given', () => {
    expect(() => parseTrainingParams({ kind: 'implicit', regularizationExponent: 3 })).toThrow('regularizationExponent: expected a number from 0 to 2, got 3');
    expect(() => parseTrainingParams({ kind: 'implicit', regularizationExponent: -0.5 })).toThrow('regularizationExponent: expected a number from 0 to 2, got -0.5');
    expect(() => parseTrainingParams({ kind: 'implicit', regularizationExponent: '1' })).toThrow("regularizationExponent: expected a number from 0 to 2, got '1'");
    expect(() => parseTrainingParams({ kind: 'implicit', regularizationOffset: -1 })).toThrow('regularizationOffset: expected a number from 0 to 1000000, got -1');
    expect(() => parseTrainingParams({ kind: 'implicit', regularizationOffset: Number.POSITIVE_INFINITY })).toThrow('regularizationOffset: expected a number from 0 to 1000000');
  });

  it('the search keeps the exponent, samples the offset only when it scales, and stays in range', () => {
    const scaled = modelParamsOf(parseTrainingParams({ kind: 'implicit' }));
    const plain = modelParamsOf(parseTrainingParams({ kind: 'implicit', regularization: 15, regularizationExponent: 0, regularizationOffset: 0 }));
    const next = random(3);
    expect(sampleParams('implicit', scaled, next, 0)).toEqual(scaled);
    for (let i = 1; i < 50; i++) {
      const s = sampleParams('implicit', scaled, next, i);
      expect(s.regularizationExponent).toBe(1);
      expect(s.regularizationOffset).toBeGreaterThanOrEqual(10);
      expect(s.regularizationOffset).toBeLessThanOrEqual(1000);
      // λ of a row with 100 pairs stays within 1..100 (up to the 3-digit rounding).
      const typical = s.regularization * (100 + s.regularizationOffset);
      expect(typical).toBeGreaterThan(0.99);
      expect(typical).toBeLessThan(101);
      // Whatever was drawn is accepted by the validation (the search's output is storable).
      expect(() => parseTrainingParams({ kind: 'implicit', ...s })).not.toThrow();
      const q = sampleParams('implicit', plain, next, i);
      expect(q.regularizationExponent).toBe(0);
      expect(q.regularizationOffset).toBe(0);
      expect(q.regularization).toBeGreaterThanOrEqual(0.99);
      expect(q.regularization).toBeLessThanOrEqual(100);
    }
  });
});
