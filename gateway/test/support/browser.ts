/**
 * Test helper: Debian's headless Chromium (bench/headless-chromium.ts) with pages that collect their
 * errors. playwright gives every launch a fresh temporary profile and removes it on close.
 * Screenshots go to test-artifacts/ at the repository root (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { launchChromium } from '../../bench/headless-chromium.js';

export const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

export interface Browser {
  /** A page in a context of its own; its console errors and uncaught exceptions land in `problems`. */
  page(options?: BrowserContextOptions): Promise<Page>;
  readonly problems: string[];
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const browser = await launchChromium();
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
