import type { AuditActor, DatabaseHandle } from '@clientele/db';
import { type Config, loadConfig } from '@clientele/config';
import { DomainError } from '@clientele/domain';
import { JobQueue } from '@clientele/jobs';
import {
  activateModelVersion,
  currentActivation,
  enqueueTraining,
  listModelVersions,
  registerTrainingJob,
  rollbackModelVersion,
  type ModelVersion,
} from '@clientele/recommender';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { progressPrinter } from './progress.js';
import { number } from './options.js';

// `clientele train …` (a training job, followed with a progress bar) and `clientele models
// list | activate | rollback` (the registry).

export interface RecommenderCommandDeps {
  withDatabase<T>(config: Config, work: (database: DatabaseHandle) => Promise<T>): Promise<T>;
  table(rows: Record<string, unknown>[]): string;
  cliActor: AuditActor;
}


function weightList(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [type, weight] = part.split('=');
    const n = Number(weight);
    if (!type || weight === undefined || !Number.isFinite(n)) throw new InvalidArgumentError(`--weights expects type=weight pairs like view=1,purchase=5, got '${part}'`);
    out[type.trim()] = n;
  }
  return out;
}

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v === undefined || v === null ? '' : String(v));

function metricsTable(result: Record<string, unknown>): Record<string, unknown>[] {
  const model = (result['metrics'] ?? {}) as Record<string, number>;
  const baseline = (result['baseline'] ?? {}) as Record<string, number>;
  return Object.keys(model)
    .filter((k) => k !== 'count' && k !== 'users')
    .map((k) => ({ metric: k, model: fmt(model[k]), popularity: fmt(baseline[k]) }));
}

/** What a training job's progress detail adds to the bar: the iteration's loss, or the trial's settings. */
export function trainingNote(detail: Record<string, unknown> | undefined): string | undefined {
  if (!detail) return undefined;
  if (typeof detail['loss'] === 'number') return `loss ${detail['loss'].toPrecision(6)}`;
  const params = detail['params'] as Record<string, unknown> | undefined;
  if (params) return `trial: ${['factors', 'iterations', 'regularization', 'alpha'].map((k) => `${k} ${fmt(params[k])}`).join(', ')}`;
  return undefined;
}

interface TrainOptions {
  kind: string;
  factors?: number;
  iterations?: number;
  regularization?: number;
  regularizationExponent?: number;
  regularizationOffset?: number;
  alpha?: number;
  weights?: Record<string, number>;
  decayHalfLifeDays?: number;
  split: string;
  testFraction?: number;
  validationFraction?: number;
  days?: number;
  trials?: number;
  maxSeconds?: number;
  autoActivate?: boolean;
  evaluationK?: number;
  seed?: number;
}

export function registerRecommenderCommands(program: Command, deps: RecommenderCommandDeps): void {
  program
    .command('train')
    .description('train a recommender model as a background job and follow its progress (runs here, or in any `clientele worker`)')
    .addOption(new Option('--kind <kind>', 'explicit (ratings) or implicit (behaviour)').choices(['explicit', 'implicit']).makeOptionMandatory())
    .addOption(new Option('--factors <n>', 'latent factors').argParser(number('--factors')))
    .addOption(new Option('--iterations <n>', 'ALS iterations').argParser(number('--iterations')))
    .addOption(new Option('--regularization <x>', 'regularisation λ').argParser(number('--regularization')))
    .addOption(new Option('--regularization-exponent <x>', 'implicit: λ·(n + offset)^x per customer and item with n pairs (0: one λ)').argParser(number('--regularization-exponent')))
    .addOption(new Option('--regularization-offset <x>', 'implicit: the offset above').argParser(number('--regularization-offset')))
    .addOption(new Option('--alpha <x>', 'implicit: confidence = 1 + alpha × weight').argParser(number('--alpha')))
    .addOption(new Option('--weights <list>', 'implicit: weights per type, e.g. view=1,add_to_cart=3,purchase=5').argParser(weightList))
    .addOption(new Option('--decay-half-life-days <n>', 'implicit: time decay half-life in days').argParser(number('--decay-half-life-days')))
    .addOption(new Option('--split <method>', 'held-out split').choices(['random', 'temporal', 'leave-last-out']).default('random'))
    .addOption(new Option('--test-fraction <x>', 'random split: test share (default 0.2)').argParser(number('--test-fraction')))
    .addOption(new Option('--validation-fraction <x>', 'random split: validation share (default 0.1)').argParser(number('--validation-fraction')))
    .addOption(new Option('--days <n>', 'temporal split: days in the test part (default 30)').argParser(number('--days')))
    .addOption(new Option('--trials <n>', 'random-search trials on the validation part').argParser(number('--trials')))
    .addOption(new Option('--max-seconds <n>', 'search time budget').argParser(number('--max-seconds')))
    .option('--auto-activate', 'activate the new version if it beats the active one (same metric and split)')
    .addOption(new Option('--evaluation-k <n>', 'implicit: k of precision@k and the other ranking figures (default 10)').argParser(number('--evaluation-k')))
    .addOption(new Option('--seed <n>', 'random seed').argParser(number('--seed')))
    .action(async (options: TrainOptions) => {
      const config = loadConfig();
      await deps.withDatabase(config, async (database) => {
        const params: Record<string, unknown> = {
          kind: options.kind,
          factors: options.factors,
          iterations: options.iterations,
          regularization: options.regularization,
          regularizationExponent: options.regularizationExponent,
          regularizationOffset: options.regularizationOffset,
          alpha: options.alpha,
          weights: options.weights,
          decayHalfLifeDays: options.decayHalfLifeDays,
          split: { method: options.split, testFraction: options.testFraction, validationFraction: options.validationFraction, days: options.days },
          search: options.trials !== undefined ? { trials: options.trials, maxSeconds: options.maxSeconds } : undefined,
          autoActivate: options.autoActivate ?? false,
          evaluationK: options.evaluationK,
          seed: options.seed,
        };
        const queue = new JobQueue(database);
        registerTrainingJob(queue, database, { interactionTypes: config.interactionTypes, threads: config.computeThreads });
        // This process works on the queue too, so the job runs even with no worker running.
        await queue.startWorker();
        try {
          const job = await enqueueTraining(queue, JSON.parse(JSON.stringify(params)) as Record<string, unknown>, deps.cliActor, config.interactionTypes);
          console.error(`training job ${job.id} (${options.kind})${job.status === 'running' ? ' was already running; following it' : ''}`);
          const bar = progressPrinter();
          const stop = () => void queue.cancel(job.id, deps.cliActor).catch(() => undefined);
          process.once('SIGINT', stop);
          let done = await queue.get(job.id);
          while (done && (done.status === 'queued' || done.status === 'running')) {
            if (done.progress) bar.update({ ...done.progress, note: trainingNote(done.progress.detail) });
            await new Promise((r) => setTimeout(r, 200));
            done = await queue.get(job.id);
          }
          process.off('SIGINT', stop);
          bar.finish();
          if (!done || done.status !== 'completed' || !done.result) {
            throw new DomainError('CONFLICT', `training job ${job.id} ${done?.status ?? 'vanished'}${done?.error ? `: ${done.error}` : ''}`);
          }
          const r = done.result;
          console.log(`version ${String(r['version'])} (${options.kind}) trained in ${fmt(r['trainingSeconds'])} s on ${fmt((r['data'] as Record<string, unknown>)['pairs'])} pairs; ${String((r['data'] as Record<string, unknown>)['split'])}`);
          console.log(deps.table(metricsTable(r)));
          console.log(String(r['activation']));
        } finally {
          await queue.stop();
        }
      });
    });

  const models = program.command('models').description('recommender model versions: list, activate, roll back');
  models
    .command('list')
    .description('model versions, newest first, with their test metrics next to the popularity baseline')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(['explicit', 'implicit']))
    .action(async (options: { kind?: 'explicit' | 'implicit' }) => {
      await deps.withDatabase(loadConfig(), async ({ db }) => {
        const page = await listModelVersions(db, { first: 50, kind: options.kind ?? null });
        const active = (await currentActivation(db))?.version;
        const baselineOf = (m: ModelVersion) => ((m.metrics['baseline'] ?? {}) as Record<string, number>)[m.primaryMetric];
        console.log(
          deps.table(
            page.nodes.map((m) => ({
              version: m.version,
              kind: m.kind,
              active: m.version === active ? 'yes' : '',
              metric: m.primaryMetric,
              value: fmt(m.primaryValue),
              popularity: fmt(baselineOf(m)),
              seconds: fmt(m.trainingSeconds),
              pairs: fmt(m.data['pairs']),
              created: m.createdAt,
            })),
          ),
        );
      });
    });
  models
    .command('activate')
    .description('serve this version from every API process (within seconds)')
    .argument('<version>', 'version number', number('version'))
    .action(async (version: number) => {
      await deps.withDatabase(loadConfig(), async ({ db }) => {
        const { model } = await activateModelVersion(db, version, deps.cliActor);
        console.log(`version ${model.version} (${model.kind}) is active; API processes switch within seconds`);
      });
    });
  models
    .command('rollback')
    .description('activate the version that was active before the current one')
    .action(async () => {
      await deps.withDatabase(loadConfig(), async ({ db }) => {
        const { model } = await rollbackModelVersion(db, deps.cliActor);
        console.log(`rolled back to version ${model.version} (${model.kind})`);
      });
    });
}
