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
});
