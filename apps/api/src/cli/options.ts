import { InvalidArgumentError } from 'commander';

// Option parsers shared by the CLI's commands: a bad value is refused by commander in one
// line naming the option.

export function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got '${value}'`);
    return Number(value);
  };
}

export function number(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${value}'`);
    return n;
  };
}
