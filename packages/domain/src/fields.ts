// Field checks shared by the batch writers. Each returns the cleaned value or a message
// saying what was expected and what was received.

export type Check<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Check<T> => ({ ok: true, value });
const bad = (message: string): Check<never> => ({ ok: false, message });

function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

export function externalId(value: unknown): Check<string> {
  if (typeof value !== 'string' && typeof value !== 'number') return bad(`expected a non-empty id, got ${show(value)}`);
  const id = String(value).trim();
  if (id.length === 0 || id.length > 200) return bad(`expected 1 to 200 characters, got ${id.length}`);
  return ok(id);
}

export function optionalText(value: unknown, max: number): Check<string | null> {
  if (value === null) return ok(null);
  if (typeof value !== 'string') return bad(`expected text, got ${show(value)}`);
  const text = value.trim();
  if (text.length > max) return bad(`expected at most ${max} characters, got ${text.length}`);
  return ok(text.length === 0 ? null : text);
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export function email(value: unknown): Check<string | null> {
  const text = optionalText(value, 320);
  if (!text.ok || text.value === null) return text;
  if (!EMAIL.test(text.value)) return bad(`expected an address like name@example.com, got ${show(value)}`);
  return ok(text.value.toLowerCase());
}

export function phone(value: unknown): Check<string | null> {
  const text = optionalText(value, 40);
  if (!text.ok || text.value === null) return text;
  const compact = text.value.replace(/[\s().-]/g, '');
  if (!/^\+?\d{5,20}$/.test(compact)) return bad(`expected a phone number like +44 20 7946 0958, got ${show(value)}`);
  return ok(compact);
}

export function countryCode(value: unknown): Check<string | null> {
  const text = optionalText(value, 2);
  if (!text.ok) return bad(`expected a two-letter ISO 3166-1 code like GB, got ${show(value)}`);
  if (text.value === null) return text;
  if (!/^[A-Za-z]{2}$/.test(text.value)) return bad(`expected a two-letter ISO 3166-1 code like GB, got ${show(value)}`);
  return ok(text.value.toUpperCase());
}

export function currencyCode(value: unknown): Check<string | null> {
  const text = optionalText(value, 3);
  if (!text.ok || (text.value !== null && !/^[A-Za-z]{3}$/.test(text.value))) {
    return bad(`expected a three-letter ISO 4217 code like GBP, got ${show(value)}`);
  }
  return ok(text.value === null ? null : text.value.toUpperCase());
}

export function attributes(value: unknown): Check<Record<string, unknown>> {
  if (value === null) return ok({});
  if (typeof value !== 'object' || Array.isArray(value)) return bad(`expected a JSON object, got ${show(value)}`);
  const size = JSON.stringify(value).length;
  if (size > 16_384) return bad(`expected at most 16 KiB of JSON, got ${size} bytes`);
  return ok(value as Record<string, unknown>);
}

export function money(value: unknown): Check<string | null> {
  if (value === null) return ok(null);
  if (typeof value !== 'number' || !Number.isFinite(value)) return bad(`expected a number, got ${show(value)}`);
  if (value < 0) return bad(`expected zero or more, got ${value}`);
  if (value >= 1e12) return bad(`expected less than 1e12, got ${value}`);
  return ok(value.toFixed(2));
}

export function categories(value: unknown): Check<string[]> {
  if (value === null) return ok([]);
  if (!Array.isArray(value)) return bad(`expected a list of category names, got ${show(value)}`);
  const cleaned: string[] = [];
  for (const entry of value) {
    if (typeof entry !== 'string' || entry.trim().length === 0 || entry.length > 100) {
      return bad(`expected category names of 1 to 100 characters, got ${show(entry)}`);
    }
    if (!cleaned.includes(entry.trim())) cleaned.push(entry.trim());
  }
  if (cleaned.length > 50) return bad(`expected at most 50 categories, got ${cleaned.length}`);
  return ok(cleaned);
}

export function bool(value: unknown): Check<boolean> {
  if (typeof value !== 'boolean') return bad(`expected true or false, got ${show(value)}`);
  return ok(value);
}

const EARLIEST = Date.UTC(1990, 0, 1);

/**
 * An ISO-8601 date-time (or a Date) from 1990 up to a day past `now`; later is almost
 * certainly a clock or parsing mistake.
 */
export function dateTime(value: unknown, now = Date.now()): Date | { message: string } {
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    date = new Date(value.trim());
  } else return { message: `expected an ISO-8601 date, got ${show(value)}` };
  const time = date.getTime();
  if (Number.isNaN(time)) return { message: `expected a real date, got ${show(value)}` };
  if (time > now + 86_400_000) return { message: `expected a date no later than tomorrow, got ${date.toISOString()}` };
  if (time < EARLIEST) return { message: `expected a date after 1990, got ${date.toISOString()}` };
  return date;
}
