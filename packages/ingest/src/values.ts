import type { RejectionCode } from './errors.js';

// Turning one cell into a typed value. A CSV cell is a string ('' means "not given"); an
// NDJSON property is any JSON value (absent means "not given", null means "clear it").
// Each parser returns the value, `undefined` for "not given", or a problem whose message
// says what was expected and what was received.

export interface Problem {
  ok: false;
  code: RejectionCode;
  message: string;
}

export const problem = (code: RejectionCode, message: string): Problem => ({ ok: false, code, message });

export function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'ok' in value && value.ok === false;
}

/** How a received value is quoted in messages (long values are cut). */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 60 ? `${value.slice(0, 57)}…` : value;
    return `'${cut.replace(/[\r\n\t]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'))}'`;
  }
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

const isAbsent = (value: unknown): value is undefined | '' => value === undefined || value === '';

/** Text, trimmed; numbers and booleans (NDJSON) become their text. */
export function text(value: unknown, max: number): string | null | undefined | Problem {
  if (isAbsent(value)) return undefined;
  if (value === null) return null;
  let result: string;
  if (typeof value === 'string') result = value.trim();
  else if (typeof value === 'number' || typeof value === 'boolean') result = String(value);
  else return problem('INVALID_VALUE', `expected text, got ${show(value)}`);
  if (result.includes('\0')) return problem('NUL_BYTE', `expected text without NUL (0x00) characters, got ${show(result)}; is the file UTF-16?`);
  if (result.length > max) return problem('INVALID_VALUE', `expected at most ${max} characters, got ${result.length}`);
  return result === '' ? undefined : result;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function number(value: unknown): number | null | undefined | Problem {
  if (isAbsent(value)) return undefined;
  if (value === null) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed === '') return undefined;
    if (NUMBER.test(trimmed)) {
      const n = Number(trimmed);
      if (Number.isFinite(n)) return n;
    }
  }
  return problem('INVALID_NUMBER', `expected a number, got ${show(value)}`);
}

export function integer(value: unknown): number | null | undefined | Problem {
  const n = number(value);
  if (typeof n !== 'number') return n;
  if (!Number.isSafeInteger(n)) return problem('INVALID_NUMBER', `expected a whole number, got ${show(value)}`);
  return n;
}

const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

export function boolean(value: unknown): boolean | null | undefined | Problem {
  if (isAbsent(value)) return undefined;
  if (value === null || typeof value === 'boolean') return value;
  const key = typeof value === 'string' ? value.trim().toLowerCase() : typeof value === 'number' ? String(value) : undefined;
  if (key !== undefined && TRUE.has(key)) return true;
  if (key !== undefined && FALSE.has(key)) return false;
  if (key === '') return undefined;
  return problem('INVALID_BOOLEAN', `expected true or false (or yes/no, 1/0), got ${show(value)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object, given as JSON text (CSV) or as an object (NDJSON). */
export function jsonObject(value: unknown): Record<string, unknown> | null | undefined | Problem {
  if (isAbsent(value)) return undefined;
  if (value === null) return null;
  if (isObject(value)) return value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed === '') return undefined;
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (isObject(parsed)) return parsed;
    } catch {
      // reported below
    }
  }
  return problem('INVALID_JSON', `expected a JSON object like {"tier":"gold"}, got ${show(value)}`);
}

/** A list: `a|b|c` or `a,b,c` in a cell (pipes win when both appear), or a JSON array. */
export function list(value: unknown): string[] | null | undefined | Problem {
  if (isAbsent(value)) return undefined;
  if (value === null) return null;
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const entry of value) {
      if (typeof entry !== 'string') return problem('INVALID_VALUE', `expected a list of names, got ${show(value)}`);
      out.push(entry.trim());
    }
    return out.filter((entry) => entry !== '');
  }
  if (typeof value !== 'string') return problem('INVALID_VALUE', `expected names separated by | or a comma, got ${show(value)}`);
  const separator = value.includes('|') ? '|' : ',';
  return value
    .split(separator)
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;
const UNIX = /^\d{9,13}(?:\.\d+)?$/;
const DAY = 86_400_000;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return MONTH_DAYS[month - 1] ?? 0;
}

/** Milliseconds since the epoch from calendar parts in UTC, or NaN when a part is out of range. */
export function utc(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const two = (text: string, at: number): number => {
  const a = digit(text, at);
  const b = digit(text, at + 1);
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
};

/**
 * The common exact form `YYYY-MM-DDTHH:MM:SSZ` or `…SS.sssZ`, without a regular expression;
 * -1 when the text has another form (the general parser then decides).
 */
function isoUtcFast(text: string): number {
  const length = text.length;
  if ((length !== 20 && length !== 24) || text.charCodeAt(length - 1) !== 90 /* Z */) return -1;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return -1;
  const century = two(text, 0);
  const yy = two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  let ms = 0;
  if (length === 24) {
    const a = digit(text, 20);
    const bc = two(text, 21);
    if (text.charCodeAt(19) !== 46 || a < 0 || a > 9 || bc < 0) return -1;
    ms = a * 100 + bc;
  }
  if (century < 0 || yy < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return -1;
  const time = utc(century * 100 + yy, month, day, hour, minute, second, ms);
  return Number.isNaN(time) ? -1 : time;
}

/** 10000-01-01T00:00:00Z: from here on ISO-8601 needs a six-digit year. */
const YEAR_10000 = 253_402_300_800_000;

/**
 * Writes `new Date(ms).toISOString()` as ASCII bytes at `at` and returns where it ends; about
 * three times faster than formatting the string (a bulk import writes one per row straight
 * into its COPY text): the civil date from the day number by Howard Hinnant's days-to-civil
 * algorithm. `bytes` needs 27 bytes of room (a six-digit year outside 0000–9999).
 */
export function writeIsoUtc(bytes: Uint8Array, at: number, ms: number): number {
  if (!(ms >= 0 && ms < YEAR_10000) || !Number.isInteger(ms)) {
    const text = new Date(ms).toISOString();
    for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
    return at + text.length;
  }
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const m5 = Math.floor((5 * dayOfYear + 2) / 153); // months from March
  const day = dayOfYear - Math.floor((153 * m5 + 2) / 5) + 1;
  const month = m5 < 10 ? m5 + 3 : m5 - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  at = writeTwo(bytes, at, Math.floor(year / 100));
  at = writeTwo(bytes, at, year % 100);
  bytes[at++] = 45; // -
  at = writeTwo(bytes, at, month);
  bytes[at++] = 45;
  at = writeTwo(bytes, at, day);
  bytes[at++] = 84; // T
  at = writeTwo(bytes, at, hour);
  bytes[at++] = 58; // :
  at = writeTwo(bytes, at, minute);
  bytes[at++] = 58;
  at = writeTwo(bytes, at, second);
  bytes[at++] = 46; // .
  bytes[at++] = 48 + Math.floor(milli / 100);
  at = writeTwo(bytes, at, milli % 100);
  bytes[at++] = 90; // Z
  return at;
}

function writeTwo(bytes: Uint8Array, at: number, n: number): number {
  const tens = Math.floor(n / 10);
  bytes[at] = 48 + tens;
  bytes[at + 1] = 48 + (n - tens * 10);
  return at + 2;
}

const ISO_SCRATCH = Buffer.alloc(32);

/** `new Date(ms).toISOString()` (see writeIsoUtc). */
export function isoUtc(ms: number): string {
  return ISO_SCRATCH.toString('latin1', 0, writeIsoUtc(ISO_SCRATCH, 0, ms));
}

/**
 * A moment: ISO-8601 (`2024-03-01`, `2024-03-01T10:20:30.5Z`, `2024-03-01 10:20:30+01:00`;
 * without a zone it is UTC) or Unix time (9–11 digits: seconds, 12–13: milliseconds).
 * More than a day in the future is refused: almost always a clock or format mistake.
 */
export function dateTime(value: unknown, now: number): Date | undefined | Problem {
  if (isAbsent(value) || value === null) return undefined;
  let time = Number.NaN;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    time = value >= 1e11 ? value : value * 1000;
  } else if (typeof value === 'string') {
    const fast = isoUtcFast(value);
    if (fast >= 0) {
      if (fast > now + DAY) return problem('FUTURE_DATE', `expected a date no later than tomorrow, got ${show(value)}`);
      return new Date(fast);
    }
    const trimmed = value.trim();
    const m = ISO.exec(trimmed);
    if (m) {
      const fraction = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
      time = utc(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), fraction);
      if (m[9] !== undefined) {
        const hours = Number(m[10]);
        const minutes = Number(m[11] ?? 0);
        if (hours > 14 || minutes > 59) time = Number.NaN;
        else time -= (m[9] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000;
      }
      if (Number.isNaN(time)) return problem('INVALID_DATE', `expected a real date and time, got ${show(value)}`);
    } else if (UNIX.test(trimmed)) {
      const digits = trimmed.includes('.') ? trimmed.indexOf('.') : trimmed.length;
      time = digits >= 12 ? Number(trimmed) : Number(trimmed) * 1000;
    } else {
      return problem('INVALID_DATE', `expected an ISO-8601 date, got ${show(value)}`);
    }
  } else {
    return problem('INVALID_DATE', `expected an ISO-8601 date, got ${show(value)}`);
  }
  if (!Number.isFinite(time)) return problem('INVALID_DATE', `expected an ISO-8601 date, got ${show(value)}`);
  if (time > now + DAY) return problem('FUTURE_DATE', `expected a date no later than tomorrow, got ${show(value)} (${new Date(time).toISOString()})`);
  return new Date(time);
}
