import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.js';

describe('loadConfig', () => {
  it('defaults to the embedded database under .clientele in the working directory', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config.database).toEqual({ kind: 'embedded', dataDir: path.resolve('/srv/app/.clientele') });
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.env).toBe('development');
    expect(config.demoData).toBe('auto');
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' }, '/x');
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' });
  });

  it('resolves a relative data folder against the working directory', () => {
    expect(loadConfig({ CLIENTELE_DATA_DIR: 'var/data' }, '/srv/app').dataDir).toBe(
      path.resolve('/srv/app/var/data'),
    );
  });

  it.each([
    ['DATABASE_URL', 'not a url', /DATABASE_URL: expected a URL like postgres:\/\//],
    ['DATABASE_URL', 'mysql://root@localhost/db', /postgres:\/\/ or postgresql:\/\//],
    ['DATABASE_URL', 'postgres://localhost', /names a database/],
    ['PORT', 'http', /PORT: expected an integer from 0 to 65535, got 'http'/],
    ['PORT', '70000', /PORT: expected an integer from 0 to 65535, got '70000'/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of fatal, error/],
    ['NODE_ENV', 'staging', /NODE_ENV: expected one of development, production, test/],
    ['CLIENTELE_INTERACTION_TYPES', 'wishlist,Bad Type', /CLIENTELE_INTERACTION_TYPES: expected a comma-separated list/],
    ['CLIENTELE_RECOMMENDER_POLL_MS', '50', /CLIENTELE_RECOMMENDER_POLL_MS: expected an integer from 100 to 600000, got '50'/],
  ])('rejects %s=%s with a specific message', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('adds custom interaction types to the built-in ones', () => {
    expect(loadConfig({ CLIENTELE_INTERACTION_TYPES: 'wishlist, share' }).interactionTypes).toEqual([
      'view', 'click', 'add_to_cart', 'purchase', 'rating', 'wishlist', 'share',
    ]);
  });

  it('requires an encryption keyring in production only', () => {
    expect(loadConfig({}).encryptionKeys).toBeNull();
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/CLIENTELE_ENCRYPTION_KEYS: expected a keyring/);
    expect(loadConfig({ NODE_ENV: 'production', CLIENTELE_ENCRYPTION_KEYS: 'k1:abc' }).encryptionKeys).toBe('k1:abc');
  });

  it('polls for recommender activations every 2 s unless told otherwise', () => {
    expect(loadConfig({}).recommenderPollMs).toBe(2000);
    expect(loadConfig({ CLIENTELE_RECOMMENDER_POLL_MS: '500' }).recommenderPollMs).toBe(500);
  });

  it('scores recommendations on one thread unless told otherwise, and checks the setting', () => {
    expect(loadConfig({}).servingThreads).toBe(1);
    expect(loadConfig({ CLIENTELE_SERVING_THREADS: '0' }).servingThreads).toBe(0);
    expect(() => loadConfig({ CLIENTELE_SERVING_THREADS: 'many' })).toThrow(/CLIENTELE_SERVING_THREADS/);
  });

  it('scores a quiet request on the event loop after 1 ms unless told otherwise, and checks the setting', () => {
    expect(loadConfig({}).servingInlineAfterIdleMs).toBe(1);
    expect(loadConfig({ CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS: '0' }).servingInlineAfterIdleMs).toBe(0);
    expect(loadConfig({ CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS: 'off' }).servingInlineAfterIdleMs).toBe(Number.POSITIVE_INFINITY);
    expect(() => loadConfig({ CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS: '-1' })).toThrow(/CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS/);
    expect(() => loadConfig({ CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS: 'soon' })).toThrow(/CLIENTELE_SERVING_INLINE_AFTER_IDLE_MS.*or off/);
  });
});
