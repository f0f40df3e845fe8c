import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../src/cli/progress.js';
import { trainingNote } from '../src/cli/recommender-command.js';

// The CLI's progress output when stderr is not a terminal (CI logs, pipes): a line per stage
// change and per tenth, with the note a command adds (a training iteration's loss).

function capture(tty: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = tty;
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('progress printer', () => {
  it('prints a line per stage change and per tenth, with the training note', () => {
    const out = capture(false);
    const bar = progressPrinter(out.stream);
    bar.update({ stage: 'extract', done: 1, total: 1 });
    for (let i = 1; i <= 20; i++) bar.update({ stage: 'train', done: i, total: 20, note: trainingNote({ iteration: i, loss: 1000 / i }) });
    bar.update({ stage: 'search', done: 1, total: 4, note: trainingNote({ trial: 1, params: { factors: 32, iterations: 10, regularization: 0.05, alpha: 2 } }) });
    bar.finish();
    const lines = out.text().trimEnd().split('\n');
    expect(lines[0]).toBe('  extract: 1/1 (100%)');
    // 20 iterations: the stage's first line, then one per tenth reached (2/20, 4/20, … 20/20).
    expect(lines.filter((l) => l.startsWith('  train:'))).toHaveLength(11);
    expect(lines).toContain('  train: 1/20 (5%)  loss 1000.00');
    expect(lines).toContain('  train: 2/20 (10%)  loss 500.000');
    expect(lines).toContain('  train: 20/20 (100%)  loss 50.0000');
    expect(lines.at(-1)).toBe('  search: 1/4 (25%)  trial: factors 32, iterations 10, regularization 0.0500, alpha 2');
  });

  it('redraws one line on a terminal', () => {
    const out = capture(true);
    const bar = progressPrinter(out.stream);
    bar.update({ stage: 'train', done: 5, total: 10, note: trainingNote({ iteration: 5, loss: 12.5 }) });
    bar.finish();
    expect(out.text()).toBe(`\r  train          [${'#'.repeat(15)}${' '.repeat(15)}]  50%  5/10  loss 12.5000   \n`);
    expect(trainingNote(undefined)).toBeUndefined();
    expect(trainingNote({ pairs: 3 })).toBeUndefined();
  });
});
