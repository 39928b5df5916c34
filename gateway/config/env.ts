/** SENSORGATE_* environment variables laid over a config file's keys (docs/reference/config.md). */
import type { z } from 'zod';
import { configSchema } from './schema.js';
import { type Obj, type SchemaNode, unwrap } from './schema-walk.js';

function keyToken(key: string): string {
  return key.toUpperCase();
}

/** SENSORGATE_ variables that are not config paths. */
const NOT_CONFIG = new Set([
  'SENSORGATE_CACHE',
  'SENSORGATE_FAILPOINT',
  'SENSORGATE_FLEET_TOKEN',
  'SENSORGATE_FLEET_SASL_PASSWORD',
]);

/**
 * Apply SENSORGATE_<PATH> variables. Path segments are keys in upper case, camelCase words
 * optionally split by `_` (SENSORGATE_GATEWAY_DATA_DIR and SENSORGATE_GATEWAY_DATADIR both set
 * gateway.dataDir); array elements by index (SENSORGATE_SOURCES_0_URL). Arrays of scalars take
 * comma-separated values.
 */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SENSORGATE_') || value === undefined || NOT_CONFIG.has(name)) continue;
    const tokens = name.slice('SENSORGATE_'.length).split('_');
    const found = findKey(raw, configSchema, tokens);
    if (found) setAt(raw, found.path, convert(found.leaf, value));
    else problems.push(`${name}: no such config key`);
  }
  return problems;
}

interface Found {
  path: Array<string | number>;
  leaf: SchemaNode;
}

/**
 * The config path `tokens` name, found before anything is written: a token that first looks like
 * a key (CLIENT in KAFKA_CLIENT_ID) but leads nowhere must leave nothing behind.
 */
function findKey(node: unknown, schema: z.ZodType | SchemaNode, tokens: string[]): Found | undefined {
  const s = unwrap(schema);
  const def = s._zod.def;
  const obj = typeof node === 'object' && node !== null ? (node as Obj) : undefined;
  if (def.type === 'object' && s.shape) {
    // Longest first: CLIENT_ID is clientId before it is client, then ID.
    for (let n = tokens.length; n >= 1; n--) {
      const joined = tokens.slice(0, n).join('');
      const key = Object.keys(s.shape).find((k) => keyToken(k) === joined);
      if (!key) continue;
      const rest = tokens.slice(n);
      if (rest.length === 0) return { path: [key], leaf: s.shape[key]! };
      const found = findKey(obj?.[key], s.shape[key]!, rest);
      if (found) return { path: [key, ...found.path], leaf: found.leaf };
    }
    return undefined;
  }
  if (def.type === 'array' && def.element && Array.isArray(node) && /^\d+$/.test(tokens[0] ?? '')) {
    const index = Number(tokens[0]);
    const el: unknown = node[index];
    if (typeof el !== 'object' || el === null) return undefined; // only elements present in the file
    const found = findKey(el, def.element, tokens.slice(1));
    return found && { path: [index, ...found.path], leaf: found.leaf };
  }
  if (def.type === 'union') {
    // A source (told apart by its driver), or a value that is `true` or an object (kafka.tls).
    const objects = (def.options ?? []).map(unwrap).filter((o) => o._zod.def.type === 'object');
    const option =
      objects.length === 1 ? objects[0] : objects.find((o) => o.shape?.driver?._zod.def.values?.includes(obj?.driver));
    return option ? findKey(node, option, tokens) : undefined;
  }
  return undefined;
}

/** Set `value` at `path`, making the mappings on the way (list elements exist: findKey saw them). */
function setAt(raw: Obj, path: Array<string | number>, value: unknown): void {
  let target = raw as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
    target = target[key] as Record<string | number, unknown>;
  }
  target[path[path.length - 1]!] = value;
}

function convert(schema: SchemaNode, value: string): unknown {
  const def = unwrap(schema)._zod.def;
  if (def.type === 'array')
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  if (def.type === 'number') return value.trim() === '' ? value : Number(value);
  const booleanish =
    def.type === 'boolean' || (def.type === 'union' && def.options?.some((o) => o._zod.def.type === 'boolean'));
  if (booleanish && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}
