/**
 * The one place config is defined and validated (docs/reference/config.md). A config is parsed from YAML,
 * overlaid with SENSORGATE_* environment variables, validated once with zod, then frozen.
 */
import { z } from 'zod';
import { deepFreeze } from '../lib/deep-freeze.js';
import { ConfigError } from './config-error.js';
import { applyEnv } from './env.js';
import { problemLines } from './problems.js';
import { type Config, configSchema, SECRET_KEYS } from './schema.js';
import { readYamlMapping } from './yaml-mapping.js';

export { ConfigError } from './config-error.js';
export { applyEnv } from './env.js';
export { formatPath, type ProblemContext, problemLines } from './problems.js';
export {
  byteSize,
  type Config,
  configJsonSchema,
  configSchema,
  type MqttSourceConfig,
  SECRET_KEYS,
  type SourceConfig,
} from './schema.js';

/** A copy of `value` with every secret replaced by "***" (for `check`, and anything else that prints config). */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redactSecrets) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) && v !== undefined ? '***' : redactSecrets(v)]),
    ) as T;
  }
  return value;
}

/**
 * `raw` validated by `schema` (a config of ours: the gateway's, the simulator's), or a ConfigError
 * with one line per problem: `earlier` (e.g. the environment's), then the ones found here.
 */
export function validateWith<S extends z.ZodType>(schema: S, raw: unknown, earlier: string[] = []): z.output<S> {
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success || earlier.length)
    throw new ConfigError([...earlier, ...(result.success ? [] : problemLines(result.error.issues, { schema, raw }))]);
  return result.data;
}

/** Validate an already-parsed config object (env applied by the caller if wanted; `earlier` as in validateWith). */
export function validateConfig(raw: unknown, earlier: string[] = []): Readonly<Config> {
  return deepFreeze(validateWith(configSchema, raw, earlier));
}

/** A YAML file's top-level mapping, or a ConfigError with one line per problem. */
export function loadYamlMapping(file: string): Record<string, unknown> {
  const read = readYamlMapping(file);
  if ('problems' in read) throw new ConfigError(read.problems);
  return read.mapping;
}

/**
 * A config file parsed and overlaid with SENSORGATE_* variables, not yet validated, and the
 * variables' problems: reported with the file's, not instead of them (one run of check shows all).
 */
function readConfigFile(file: string, env: NodeJS.ProcessEnv): { raw: Record<string, unknown>; envProblems: string[] } {
  const raw = loadYamlMapping(file);
  return { raw, envProblems: applyEnv(raw, env) };
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const { raw, envProblems } = readConfigFile(file, env);
  return validateConfig(raw, envProblems);
}

/**
 * Only the `kafka:` section of a config file, validated as the gateway validates it: `fleet` and
 * `consume` read a gateway's own file (its other sections are ignored) or one with just `kafka:`.
 */
export function loadKafkaConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config['kafka']> {
  const { raw, envProblems } = readConfigFile(file, env);
  const result = z.object({ kafka: configSchema.shape.kafka }).safeParse(raw);
  if (!result.success || envProblems.length)
    throw new ConfigError([...envProblems, ...(result.success ? [] : problemLines(result.error.issues))]);
  return deepFreeze(result.data.kafka);
}

/**
 * The kafka: section of a config file for a command that reads one topic of it (`fleet` the
 * status topic, `consume` the readings topic), with the command's `--topic` in its place when
 * given. A bad `--topic` is added to `problems`, named by the flag.
 */
export function kafkaForCommand(
  file: string,
  env: NodeJS.ProcessEnv,
  topicKey: 'topic' | 'statusTopic',
  topic: string | undefined,
  problems: string[],
): Config['kafka'] {
  const kafka = loadKafkaConfig(file, env);
  if (topic === undefined) return kafka;
  const parsed = configSchema.shape.kafka.shape[topicKey].safeParse(topic);
  if (parsed.success) return { ...kafka, [topicKey]: parsed.data };
  problems.push(`--topic: ${parsed.error.issues[0]!.message}`);
  return kafka;
}
