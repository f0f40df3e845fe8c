import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDirectory } from '../src/http/console.js';
import { startTestApp, type TestApp } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM) && consoleDirectory() !== null;
if (!available) console.warn(`console e2e skipped: needs ${CHROMIUM} (apt-get install chromium) and a built console`);

describe.skipIf(!available)('console in a real browser', () => {
  let app: TestApp;
  let browser: Browser;
  let admin: { email: string; password: string };

  beforeAll(async () => {
    app = await startTestApp();
    admin = await app.user('admin', 'console-admin@example.com');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('redirects to sign-in, refuses a wrong password, signs in, navigates and signs out', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/customers`);
    await page.waitForURL(/\/sign-in/);

    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Password').fill('definitely wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/email or password is incorrect/);

    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back to the page first asked for, with the user shown in the shell.
    await page.waitForURL(/\/customers$/);
    await expect.poll(() => page.getByTestId('current-user-email').textContent()).toBe(admin.email);
    expect(await page.title()).toMatch(/Customers/);

    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Overview' }).click();
    await expect.poll(() => page.getByTestId('readiness-status').textContent()).toMatch(/ready/i);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    const session = await page.evaluate(async () => (await fetch('/auth/session')).status);
    expect(session).toBe(401);
    await page.close();
  });
});
