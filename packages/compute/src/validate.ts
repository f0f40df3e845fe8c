// Argument validation shared by every wrapper. Errors name the argument, what was expected and what
// was received, e.g. "kmeans: options.k: expected an integer in [1, 1000] (k ≤ n), received 5000".

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) {
    const len = 'length' in value ? (value as { length: number }).length : value.byteLength;
    return `a ${value.constructor.name} of length ${len}`;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `an object`;
}

export class Check {
  constructor(readonly fn: string) {}

  typeError(name: string, expected: string, value: unknown): TypeError {
    return new TypeError(`${this.fn}: ${name}: expected ${expected}, received ${describe(value)}`);
  }

  rangeError(name: string, expected: string, received: string): RangeError {
    return new RangeError(`${this.fn}: ${name}: expected ${expected}, received ${received}`);
  }

  object<T extends object>(name: string, value: T | undefined, optional = false): T {
    if (value === undefined && optional) return {} as T;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw this.typeError(name, 'an object', value);
    return value;
  }

  float32(name: string, value: unknown): Float32Array {
    if (!(value instanceof Float32Array)) throw this.typeError(name, 'a Float32Array', value);
    return value;
  }

  int32(name: string, value: unknown): Int32Array {
    if (!(value instanceof Int32Array)) throw this.typeError(name, 'an Int32Array', value);
    return value;
  }

  /** Integer in [min, max]; `def` used when value is undefined (unless def is undefined). */
  integer(name: string, value: unknown, min: number, max: number, def?: number, hint = ''): number {
    if (value === undefined && def !== undefined) return def;
    const expected = `an integer in [${min}, ${max}]${hint}`;
    if (typeof value !== 'number') throw this.typeError(name, expected, value);
    if (!Number.isInteger(value) || value < min || value > max) throw this.rangeError(name, expected, describe(value));
    return value;
  }

  number(name: string, value: unknown, min: number, max: number, def?: number): number {
    if (value === undefined && def !== undefined) return def;
    const expected = `a finite number in [${min}, ${max}]`;
    if (typeof value !== 'number') throw this.typeError(name, expected, value);
    if (!Number.isFinite(value) || value < min || value > max) throw this.rangeError(name, expected, describe(value));
    return value;
  }

  boolean(name: string, value: unknown, def: boolean): boolean {
    if (value === undefined) return def;
    if (typeof value !== 'boolean') throw this.typeError(name, 'a boolean', value);
    return value;
  }

  oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], def: T): T {
    if (value === undefined) return def;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      const expected = `one of ${allowed.map((a) => `'${a}'`).join(', ')}`;
      if (typeof value !== 'string') throw this.typeError(name, expected, value);
      throw this.rangeError(name, expected, describe(value));
    }
    return value as T;
  }

  /** Every element finite. */
  finite(name: string, values: Float32Array | Float64Array): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) throw this.rangeError(name, 'finite numbers (no NaN or Infinity)', `${v} at index ${i}`);
    }
  }

  /** Every element finite and ≥ 0. */
  nonNegative(name: string, values: Float32Array): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v) || v < 0) throw this.rangeError(name, 'finite numbers ≥ 0', `${v} at index ${i}`);
    }
  }

  /** Every element an index in [0, limit). */
  indices(name: string, values: Int32Array, limit: number, limitName: string): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < 0 || v >= limit) throw this.rangeError(name, `indices in [0, ${limitName}=${limit})`, `${v} at index ${i}`);
    }
  }

  /** A flat row-major matrix: length divisible by dim; returns the row count. */
  rows(name: string, values: Float32Array, dim: number, dimName = 'dim'): number {
    if (values.length % dim !== 0) {
      throw this.rangeError(name, `a length divisible by ${dimName}=${dim}`, `length ${values.length}`);
    }
    return values.length / dim;
  }

  length(name: string, values: { length: number }, expected: number, what: string): void {
    if (values.length !== expected) throw this.rangeError(name, `length ${expected} (${what})`, `length ${values.length}`);
  }
}
