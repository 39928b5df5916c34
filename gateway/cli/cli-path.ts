/** Where the CLI is and how Node must start it, for code that spawns a gateway (tests, bench, demo helpers). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI_PATH = fileURLToPath(new URL('./main.js', import.meta.url));

/** The Node flags in the CLI's shebang (`#!/usr/bin/env -S node FLAGS`): spawn with them to run it as users do. */
export function cliNodeFlags(): string[] {
  const shebang = readFileSync(CLI_PATH, 'utf8').split('\n', 1)[0]!;
  const m = /\bnode\s+(.*)$/.exec(shebang);
  return m ? m[1]!.trim().split(/\s+/) : [];
}
