/**
 * Debian's Chromium, headless, driven by playwright-core (a devDependency, loaded only here: no
 * browser download, the machine has no internet). The fleet bench and the page tests launch it alike.
 */
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** No sandbox (root in a container), no GPU, and nothing that phones home during a measurement. */
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

/** Launch CHROMIUM; fails with ERR_MODULE_NOT_FOUND when playwright-core is not installed. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}
