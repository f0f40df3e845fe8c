/** Progress in the shape used everywhere: `{stage, done, total}`. */
export interface Progress {
  stage: string;
  done: number;
  total: number;
  /** Shown after the counts (e.g. a training iteration's loss). */
  note?: string;
}

/** A one-line progress bar on a terminal; a line per stage change (and per 10%) otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { update(p: Progress): void; finish(): void } {
  let lastStage = '';
  let lastTenth = -1;
  let drawn = false;
  return {
    update({ stage, done, total, note }) {
      const tail = note ? `  ${note}` : '';
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      if (stream.isTTY) {
        const width = 30;
        const filled = Math.round(fraction * width);
        stream.write(`\r  ${stage.padEnd(14)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${done.toLocaleString('en')}/${total.toLocaleString('en')}${tail}   `);
        drawn = true;
        return;
      }
      const tenth = Math.floor(fraction * 10);
      if (stage !== lastStage || tenth !== lastTenth) {
        stream.write(`  ${stage}: ${done.toLocaleString('en')}/${total.toLocaleString('en')} (${Math.round(fraction * 100)}%)${tail}\n`);
        lastStage = stage;
        lastTenth = tenth;
      }
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
