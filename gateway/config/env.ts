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
    if (!setByTokens(raw, configSchema, tokens, value)) {
      problems.push(`${name}: no such config key`);
    }
  }
  return problems;
}

function setByTokens(target: Obj, schema: z.ZodType | SchemaNode, tokens: string[], value: string): boolean {
  const s = unwrap(schema);
  const def = s._zod.def;
  if (def.type === 'object' && s.shape) {
    for (let n = 1; n <= tokens.length; n++) {
      const joined = tokens.slice(0, n).join('');
      const key = Object.keys(s.shape).find((k) => keyToken(k) === joined);
      if (!key) continue;
      const rest = tokens.slice(n);
      if (rest.length === 0) {
        target[key] = convert(s.shape[key]!, value);
        return true;
      }
      if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
      if (setByTokens(target[key] as Obj, s.shape[key]!, rest, value)) return true;
    }
    return false;
  }
  if (def.type === 'array' && def.element && Array.isArray(target) && /^\d+$/.test(tokens[0] ?? '')) {
    const el: unknown = target[Number(tokens[0])];
    if (typeof el !== 'object' || el === null) return false; // only elements present in the file
    return setByTokens(el as Obj, def.element, tokens.slice(1), value);
  }
  if (def.type === 'union') {
    // A source (told apart by its driver), or a value that is `true` or an object (kafka.tls).
    const objects = (def.options ?? []).map(unwrap).filter((o) => o._zod.def.type === 'object');
    const option =
      objects.length === 1
        ? objects[0]
        : objects.find((o) => o.shape?.driver?._zod.def.values?.includes(target.driver));
    return option ? setByTokens(target, option, tokens, value) : false;
  }
  return false;
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
