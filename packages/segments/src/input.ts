import { DomainError } from '@clientele/domain';
import { DEFAULT_WINDOW_DAYS, FEATURE_NAMES, MAX_WINDOW_DAYS, featureDefinition, isFeatureName, type FeatureName, type FeatureTransform } from './features.js';

// Checks of what callers send (GraphQL, CLI, job parameters). Each failure is a DomainError
// naming the input, what was expected and what was received.

export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
  if (value === undefined) return 'nothing';
  try {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return String(value);
  }
}

export function badInput(field: string, expected: string, received: unknown): DomainError {
  return new DomainError('BAD_USER_INPUT', `${field}: expected ${expected}, got ${show(received)}`, field);
}

export function integer(field: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw badInput(field, `an integer from ${min} to ${max}`, value);
  return value;
}

export function optionalInteger(field: string, value: unknown, min: number, max: number): number | null {
  if (value === undefined || value === null) return null;
  return integer(field, value, min, max, min);
}

export function number(field: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw badInput(field, `a number from ${min} to ${max}`, value);
  return value;
}

export function boolean(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw badInput(field, 'true or false', value);
  return value;
}

/** An ISO-8601 date (a Date is accepted too); null when absent. */
export function optionalDate(field: string, value: unknown): Date | null {
  if (value === undefined || value === null) return null;
  const date = value instanceof Date ? value : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw badInput(field, 'an ISO-8601 date such as 2011-12-09T00:00:00Z', value);
  if (date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 2200) throw badInput(field, 'a date between 1970 and 2200', value);
  return date;
}

export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  const found = allowed.find((a) => a === (typeof value === 'string' ? value.toLowerCase() : value));
  if (found === undefined) throw badInput(field, `one of ${allowed.join(', ')}`, value);
  return found;
}

export function windowDays(field: string, value: unknown): number {
  return integer(field, value, 1, MAX_WINDOW_DAYS, DEFAULT_WINDOW_DAYS);
}

export interface FeatureChoice {
  name: FeatureName;
  transform: FeatureTransform;
}

/**
 * A list of features, each a name or `{ name, transform }` (`log` or `none`; default from the
 * feature's definition). Unknown names and duplicates are refused.
 */
export function featureChoices(field: string, value: unknown, fallback: readonly FeatureName[]): FeatureChoice[] {
  if (value === undefined || value === null) return fallback.map((name) => ({ name, transform: featureDefinition(name).transform }));
  if (!Array.isArray(value) || value.length === 0) throw badInput(field, 'a non-empty list of feature names', value);
  if (value.length > FEATURE_NAMES.length) throw badInput(field, `at most ${FEATURE_NAMES.length} features`, value);
  const choices: FeatureChoice[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `${field}[${i}]`;
    const record = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : null;
    const name = record ? record['name'] : entry;
    if (!isFeatureName(name)) {
      throw new DomainError('BAD_USER_INPUT', `${at}${record ? '.name' : ''}: unknown feature ${show(name)} (expected one of ${FEATURE_NAMES.join(', ')})`, at);
    }
    if (choices.some((c) => c.name === name)) throw new DomainError('BAD_USER_INPUT', `${at}: feature '${name}' is listed twice`, at);
    const transform = oneOf<FeatureTransform>(`${at}.transform`, record ? record['transform'] : undefined, ['log', 'none'], featureDefinition(name).transform);
    choices.push({ name, transform });
  });
  return choices;
}

/** A plain object (job parameters, GraphQL input); anything else is refused. */
export function record(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badInput(field, 'an object', value);
  return value as Record<string, unknown>;
}
