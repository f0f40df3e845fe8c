import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliWorkspace, runCli, type CliWorkspace } from './helpers.js';

describe('clientele CLI', () => {
  let workspace: CliWorkspace;
  let dir: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    workspace = await cliWorkspace('clientele-cli-');
    ({ dir, env } = workspace);
  });
  afterAll(async () => {
    await workspace?.close();
  });

  it('documents every command with --help', { timeout: 300_000 }, () => {
    const top = runCli(['--help'], env);
    expect(top.status).toBe(0);
    for (const command of ['start', 'serve', 'migrate', 'demo-data', 'users', 'keys']) expect(top.stdout).toContain(command);
    for (const sub of [['users', 'create'], ['keys', 'revoke'], ['serve']]) {
      const help = runCli([...sub, '--help'], env);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/Usage: clientele/);
    }
  });

  it('rejects an unknown flag or command in one line with a non-zero exit', () => {
    const flag = runCli(['start', '--bogus'], env);
    expect(flag.status).toBe(1);
    expect(flag.stderr.split('\n')[0]).toBe("clientele: unknown option '--bogus'");
    const command = runCli(['frobnicate'], env);
    expect(command.status).toBe(1);
    expect(command.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('explains a wrong DATABASE_URL without a stack trace', () => {
    const wrong = runCli(['migrate'], { DATABASE_URL: 'mysql://root@localhost/shop' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim()).toBe(
      "clientele: DATABASE_URL: expected a postgres:// or postgresql:// URL (or unset it to use the embedded database), got 'mysql://root@localhost/shop'",
    );
    const down = runCli(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/clientele' });
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/^clientele: cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/clientele: connection refused/);
    expect(down.stderr).not.toMatch(/\n\s+at /);
  });

  it('explains a corrupt data folder', () => {
    const corrupt = path.join(dir, 'corrupt');
    mkdirSync(path.join(corrupt, 'pgdata'), { recursive: true });
    writeFileSync(path.join(corrupt, 'pgdata', 'junk'), 'junk');
    const result = runCli(['migrate'], { CLIENTELE_DATA_DIR: corrupt });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^clientele: the embedded database in .* cannot be opened .* Move the folder away/);
  });

  it('creates users and keys, lists and revokes keys', { timeout: 600_000 }, () => {
    const user = runCli(['users', 'create', '--email', 'ops@example.com', '--role', 'admin'], env);
    expect(user.status).toBe(0);
    expect(user.stdout).toMatch(/created admin ops@example.com\npassword: \S{16}/);
    const fromStdin = runCli(['users', 'create', '--email', 'viewer@example.com', '--role', 'viewer', '--password-stdin'], env, 'a long enough password\n');
    expect(fromStdin.status).toBe(0);
    const weak = runCli(['users', 'create', '--email', 'weak@example.com', '--role', 'viewer', '--password', 'short'], env);
    expect(weak.status).toBe(1);
    expect(weak.stderr.trim()).toBe('clientele: password: expected at least 10 characters, got 5');
    expect(runCli(['users', 'list'], env).stdout).toMatch(/ops@example.com\s+admin/);

    const key = runCli(['keys', 'create', '--name', 'Shop', '--scopes', 'read,write'], env);
    expect(key.status).toBe(0);
    const prefix = /created key ([0-9a-f]{12})/.exec(key.stdout)?.[1];
    expect(key.stdout).toMatch(/secret \(shown once\): clt_[0-9a-f]{12}_\S{43}/);
    expect(runCli(['keys', 'list'], env).stdout).toContain(prefix);
    expect(runCli(['keys', 'revoke', prefix ?? ''], env).stdout).toMatch(/revoked key/);
    expect(runCli(['keys', 'list'], env).stdout).not.toContain(prefix);
    const badScope = runCli(['keys', 'create', '--name', 'x', '--scopes', 'read,root'], env);
    expect(badScope.status).toBe(1);
    expect(badScope.stderr.trim()).toBe("clientele: scopes: expected one of read, write, admin, got 'root'");
  });
  it('trains a model, then lists, activates and rolls back versions', { timeout: 600_000 }, () => {
    const demo = runCli(['demo-data', '--customers', '300', '--items', '120', '--interactions', '6000'], env);
    expect(demo.status).toBe(0);
    const train = (extra: string[]) => runCli(['train', '--kind', 'implicit', '--factors', '8', '--iterations', '3', ...extra], env);
    const first = train(['--evaluation-k', '5']);
    expect(first.status, first.stderr).toBe(0);
    // The job's progress is polled: which stages show depends on the timing (progress.test.ts).
    expect(first.stderr).toMatch(/^training job [0-9a-f-]{36} \(implicit\)$/m);
    expect(first.stdout).toMatch(/^version 1 \(implicit\) trained in [\d.]+ s on \d+ pairs; random 70\/10\/20/m);
    expect(first.stdout).toMatch(/precision@5/);
    expect(first.stdout).toMatch(/not requested/);
    const second = train(['--auto-activate']);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/^activated: no version was active$/m);
    const list = runCli(['models', 'list'], env);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^\s*2\s+implicit\s+yes\s+precision@10/m);
    expect(list.stdout).toMatch(/^\s*1\s+implicit\s+precision@5/m);
    expect(runCli(['models', 'activate', '1'], env).stdout).toMatch(/version 1 \(implicit\) is active/);
    const back = runCli(['models', 'rollback'], env);
    expect(back.status).toBe(0);
    expect(back.stdout).toMatch(/version 2/);
    const bad = train(['--evaluation-k', '0']);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^clientele: evaluationK: expected .*got 0$/);
  });
});
