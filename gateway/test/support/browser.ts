/**
 * Test helper: Debian's headless Chromium driven by playwright-core (no browser download; the
 * machine has no internet). playwright gives every launch a fresh temporary profile and removes
 * it on close. Screenshots go to test-artifacts/ at the repository root (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContextOptions, chromium, type Page, type Browser as PwBrowser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  /** A page in a context of its own; its console errors and uncaught exceptions land in `problems`. */
  page(options?: BrowserContextOptions): Promise<Page>;
  readonly problems: string[];
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const browser: PwBrowser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  const problems: string[] = [];
  return {
    problems,
    async page(options) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...options });
      const page = await ctx.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      return page;
    },
    async screenshot(page, name) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: () => browser.close(),
  };
}
