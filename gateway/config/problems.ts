/**
 * Config problems as people read them: one line each, naming the key path, what was expected and
 * what was found, with the likely key when a name is misspelt. Shared by every config we read.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { z } from 'zod';
import { SECRET_KEYS } from './schema.js';
import { type Obj, type SchemaNode, unwrap } from './schema-walk.js';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : (out ? '.' : '') + String(p);
  return out || '(root)';
}

/** What a YAML author wrote, in YAML's words: `the string "x"`, `the number 3`, `a list`. */
function found(value: unknown, secret: boolean): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  if (secret) return `a ${typeof value} (not shown: a secret)`;
  const shown = JSON.stringify(value);
  return `the ${typeof value} ${shown.length > 60 ? `${shown.slice(0, 57)}…` : shown}`;
}

const EXPECTED: Record<string, string> = {
  array: 'a list',
  object: 'a mapping',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

/** The known word nearest to `word`, if near enough to be a likely typo. */
function didYouMean(word: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(word, known as string[]);
  const d = distance(word.toLowerCase(), best.toLowerCase());
  return d <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

export interface ProblemContext {
  /** The schema validated against, and the input: to name the keys an unknown key most likely meant. */
  schema: z.ZodType;
  raw: unknown;
}

/**
 * zod issues as readable lines, one per problem, each naming its key path, what was expected
 * and what was found (shared by every config we read). Parse with `reportInput: true`: zod 4
 * leaves the input off its issues otherwise, and a wrong type would read like a missing key.
 */
export function problemLines(issues: z.core.$ZodIssue[], ctx?: ProblemContext): string[] {
  return issues.flatMap((i): string[] => {
    const input = (i as { input?: unknown }).input;
    const last = i.path[i.path.length - 1];
    const secret = typeof last === 'string' && SECRET_KEYS.has(last);
    const at = formatPath(i.path);
    switch (i.code) {
      case 'unrecognized_keys': {
        const known = ctx ? knownKeys(ctx.schema, ctx.raw, i.path) : [];
        return i.keys.map((k) => {
          const guess = didYouMean(k, known);
          const hint = guess
            ? `did you mean "${guess}"?`
            : known.length
              ? `known keys here: ${known.join(', ')}`
              : 'check the spelling';
          return `${formatPath([...i.path, k])}: unknown key; ${hint}`;
        });
      }
      case 'invalid_type': {
        const expected = EXPECTED[i.expected] ?? i.expected;
        if (input === undefined) return [`${at}: required (${expected})`];
        return [`${at}: expected ${expected}, found ${found(input, secret)}`];
      }
      case 'invalid_value': {
        const values = i.values.map((v) => JSON.stringify(v));
        if (input === undefined)
          return [`${at}: expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}`];
        const guess =
          typeof input === 'string'
            ? didYouMean(
                input,
                i.values.filter((v): v is string => typeof v === 'string'),
              )
            : undefined;
        return [
          `${at}: expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}, found ${found(input, secret)}${guess ? `; did you mean "${guess}"?` : ''}`,
        ];
      }
      case 'invalid_union': {
        if (!('discriminator' in i) || !i.discriminator) break;
        const options = (i as { options?: unknown[] }).options ?? [];
        const value = (input as Record<string, unknown> | undefined)?.[i.discriminator as string];
        const guess =
          typeof value === 'string'
            ? didYouMean(
                value,
                options.filter((v): v is string => typeof v === 'string'),
              )
            : undefined;
        const choices = `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`;
        if (value === undefined) return [`${at}: required (${choices})`];
        return [`${at}: expected ${choices}, found ${found(value, false)}${guess ? `; did you mean "${guess}"?` : ''}`];
      }
      case 'too_big':
      case 'too_small': {
        const bound = i.code === 'too_big' ? i.maximum : i.minimum;
        const exclusive = i.inclusive === false;
        const what = i.origin === 'array' ? ' items' : i.origin === 'string' ? ' characters' : '';
        const rel = i.code === 'too_big' ? (exclusive ? 'less than' : 'at most') : exclusive ? 'more than' : 'at least';
        // A custom message says more than the bound (e.g. why the range is what it is).
        const expected = i.message.startsWith('Too ') ? `expected ${rel} ${String(bound)}${what}` : i.message;
        if (input === undefined) return [`${at}: ${expected}`];
        return [`${at}: ${expected}, found ${Array.isArray(input) ? `${input.length} items` : found(input, secret)}`];
      }
    }
    return [
      input === undefined || typeof input === 'object'
        ? `${at}: ${i.message}`
        : `${at}: ${i.message}, found ${found(input, secret)}`,
    ];
  });
}

/** The keys the schema knows at `path` (following the input through arrays and the driver union). */
function knownKeys(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): string[] {
  let s: SchemaNode | undefined = unwrap(schema);
  let value = raw as Obj | undefined;
  for (const key of [...path, undefined]) {
    const def = s?._zod.def;
    if (def?.type === 'union') {
      // A discriminated union (sources by driver, simulated devices by transport): the option the input names.
      const tag = def.discriminator ?? 'driver';
      const option = def.options?.find((o) => unwrap(o).shape?.[tag]?._zod.def.values?.includes(value?.[tag]));
      if (!option) return [];
      s = unwrap(option);
    }
    if (key === undefined) break;
    const t = s?._zod.def.type;
    const next = t === 'object' ? s?.shape?.[key as string] : t === 'array' ? s?._zod.def.element : undefined;
    if (!next) return [];
    s = unwrap(next);
    value = value?.[key as string] as Obj | undefined;
  }
  return s?._zod.def.type === 'object' && s.shape ? Object.keys(s.shape) : [];
}
