/**
 * The one place config is defined and validated (docs/reference/config.md). A config is parsed from YAML,
 * overlaid with SENSORGATE_* environment variables, validated once with zod, then frozen.
 */
import { readFileSync } from 'node:fs';
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { MAX_UNIT_LENGTH, nameSchema as name } from '../../drivers/names.js';
import { listenProblem } from '../web/auth.js';
import { readYamlMapping } from './yaml-mapping.js';

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, { message: 'must be HOST:PORT' });
const filePath = z.string().min(1);

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
};

/** A size in bytes: a number, or a string with a unit (`64MiB`, `1 GB`, `512KiB`). */
export const byteSize = z
  .union([
    z.number().int().min(0),
    // Units in any case, spelled out rather than with the `i` flag: JSON Schema patterns have no
    // flags, and editors checking against `config schema` must accept what `check` accepts.
    z.string().regex(/^\s*\d+(\.\d+)?\s*([Bb]|[KkMmGg][Ii]?[Bb])?\s*$/, {
      message: 'must be a number of bytes or a size such as 64MiB (units: B KB MB GB KiB MiB GiB)',
    }),
  ])
  .transform((v) => {
    if (typeof v === 'number') return v;
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v)!;
    return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] || 'B').toUpperCase()]!);
  });

/** A PEM file the gateway reads at start: unreadable or not PEM is a config error naming the key. */
const pemFile = filePath.superRefine((path, ctx) => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    });
    return;
  }
  if (!text.includes('-----BEGIN '))
    ctx.addIssue({ code: 'custom', message: `${path} is not a PEM file (no -----BEGIN line)` });
});

/** TLS to Kafka. Certificates are always verified: there is deliberately no option to turn that off. */
const kafkaTls = z
  .strictObject({
    /** PEM bundle of the CA(s) that signed the brokers' certificates (default: the system's CAs). */
    ca: pemFile.optional(),
    /** Client certificate and key: mutual TLS. */
    cert: pemFile.optional(),
    key: pemFile.optional(),
    /** The name to verify in the brokers' certificates instead of the host dialled. */
    servername: z.string().min(1).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.cert !== undefined && t.key === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: "required with cert (the client certificate's private key)",
      });
    if (t.key !== undefined && t.cert === undefined)
      ctx.addIssue({ code: 'custom', path: ['cert'], message: 'required with key' });
  });

const topicPattern = z.string().regex(/^[^#]*(#)?$/, { message: '# may only end the pattern' });

/** An option set where it has no effect is a mistake worth a line, not silence. */
function only(ctx: z.RefinementCtx, key: string, where: string): void {
  ctx.addIssue({ code: 'custom', path: [key], message: `only applies with ${where}` });
}

const mqttSource = z
  .strictObject({
    id: name,
    driver: z.literal('mqtt'),
    url: z.string().regex(/^(mqtts?|wss?):\/\/.+/, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
    topics: z.array(z.string().min(1)).min(1),
    /** One pattern, or one per subscription layout (the first that matches a topic wins). */
    topicPattern: z.union([topicPattern, z.array(topicPattern).min(1)]).optional(),
    /** json: readings as numbers or JSON objects; sparkplug-b: Eclipse Sparkplug B protobuf (names come from the topic and births). */
    payload: z.enum(['json', 'sparkplug-b']).default('json'),
    /** sparkplug-b: ask edge nodes for their births (NCMD Node Control/Rebirth) when data arrive with unknown aliases. */
    rebirthRequests: z.boolean().optional(),
    clientId: z.string().min(1).max(128).optional(),
    maxPayloadBytes: z.number().int().positive().default(65536),
    receiveMaximum: z.number().int().min(1).max(65535).default(1000),
    /** Subscription QoS: 2 takes each message in exactly once across crashes; 1 may take one in twice. */
    qos: z.number().int().min(1, { message: 'must be 1 or 2' }).max(2, { message: 'must be 1 or 2' }).default(2),
    /** MQTT 5 by default; "3.1.1" for brokers without 5 (the session is then kept by clean=false alone). */
    mqttVersion: z.enum(['5', '3.1.1']).default('5'),
    /** Messages per second accepted on average; the excess is rejected (reason rate_limited). */
    maxRatePerS: z.number().positive().optional(),
    /** Messages accepted at once above the rate; default one second's worth. */
    maxBurst: z.number().int().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    ca: filePath.optional(),
    cert: filePath.optional(),
    key: filePath.optional(),
  })
  .superRefine((s, ctx) => {
    const tls = /^(mqtts|wss):/.test(s.url);
    for (const k of ['ca', 'cert', 'key'] as const) {
      if (s[k] !== undefined && !tls) only(ctx, k, 'an mqtts:// or wss:// url');
    }
    if (s.cert !== undefined && s.key === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: "required with cert (the client certificate's private key)",
      });
    if (s.key !== undefined && s.cert === undefined)
      ctx.addIssue({ code: 'custom', path: ['cert'], message: 'required with key' });
    if (s.password !== undefined && s.username === undefined)
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'required with password' });
    if (s.maxBurst !== undefined && s.maxRatePerS === undefined) only(ctx, 'maxBurst', 'maxRatePerS');
    if (s.topicPattern !== undefined && s.payload !== 'json')
      only(ctx, 'topicPattern', 'payload: json (Sparkplug B topics name edge node and device)');
    if (s.rebirthRequests !== undefined && s.payload !== 'sparkplug-b')
      only(ctx, 'rebirthRequests', 'payload: sparkplug-b');
  });

/** Serial line settings shared by the serial and Modbus sources. */
const serialLine = {
  path: filePath,
  baudRate: z.number().int().positive().default(9600),
  // Numbers (not literals) so that SENSORGATE_ overrides, which arrive as numbers, fit.
  dataBits: z.number().int().min(5).max(8).default(8),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  stopBits: z.number().int().min(1).max(2).default(1),
};

const serialSource = z
  .strictObject({
    id: name,
    driver: z.literal('serial'),
    ...serialLine,
    format: z.enum(['line', 'jsonl']).default('line'),
    requireChecksum: z.boolean().default(false),
    /** jsonl: sensor and metric for objects that do not name them. */
    sensor: name.optional(),
    metric: name.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.format === 'line') {
      for (const k of ['sensor', 'metric'] as const)
        if (s[k] !== undefined) only(ctx, k, 'format: jsonl (a line frame names its sensor and metrics)');
    } else if (s.requireChecksum) {
      only(ctx, 'requireChecksum', 'format: line');
    }
  });

const modbusRegister = z
  .strictObject({
    sensor: name,
    metric: name,
    unit: z.string().min(1).max(MAX_UNIT_LENGTH).optional(),
    /** Slave address when it differs from the source's (several slaves on one RS-485 line). */
    unitId: z.number().int().min(1).max(247).optional(),
    table: z.enum(['holding', 'input']).default('holding'),
    /** Protocol address, 0-based (register 40001 is holding address 0). */
    address: z.number().int().min(0).max(65535),
    type: z.enum(['int16', 'uint16', 'int32', 'uint32', 'float32']).default('uint16'),
    wordOrder: z.enum(['big', 'little']).default('big'),
    scale: z.number().default(1),
    offset: z.number().default(0),
  })
  .superRefine((r, ctx) => {
    if (r.type !== 'int16' && r.type !== 'uint16' && r.address > 65534)
      ctx.addIssue({ code: 'custom', path: ['address'], message: `${r.type} spans two registers: at most 65534` });
  });

const modbusSource = z
  .strictObject({
    id: name,
    driver: z.literal('modbus'),
    /** RTU over a serial line: path and the line settings; or Modbus TCP: host and port. */
    ...serialLine,
    path: filePath.optional(),
    host: z.string().min(1).optional(),
    /** Modbus TCP port; 502 when absent. */
    port: z.number().int().min(1).max(65535).optional(),
    unitId: z.number().int().min(1).max(247).default(1),
    pollIntervalMs: z.number().int().min(10).default(1000),
    timeoutMs: z.number().int().min(10).max(60_000).default(1000),
    registers: z.array(modbusRegister).min(1),
  })
  .superRefine((s, ctx) => {
    if (s.path === undefined && s.host === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['path'],
        message: 'required: path (Modbus RTU on a serial line) or host (Modbus TCP)',
      });
    if (s.path !== undefined && s.host !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: 'either path (Modbus RTU) or host (Modbus TCP), not both',
      });
    if (s.port !== undefined && s.host === undefined) only(ctx, 'port', 'host (Modbus TCP)');
    const seen = new Set<string>();
    s.registers.forEach((r, i) => {
      const key = `${r.sensor}/${r.metric}`;
      if (seen.has(key))
        ctx.addIssue({ code: 'custom', path: ['registers', i, 'metric'], message: `duplicate sensor/metric "${key}"` });
      seen.add(key);
    });
  });

const HEADER_MAX_PIN = 27;

const gpioSource = z
  .strictObject({
    id: name,
    driver: z.literal('gpio'),
    pin: z.number().int().min(0).max(1023),
    mode: z.enum(['state', 'edges', 'pulses']).default('state'),
    /** onoff: the kernel's sysfs GPIO, the one backend today (the simulated chip of the demo and tests is handed in, not configured). */
    chip: z.enum(['onoff']).default('onoff'),
    /** The gpiochip label, when the sensor is not on the Pi header's chip. */
    chipLabel: z.string().min(1).optional(),
    sensor: name.optional(),
    metric: name.optional(),
    unit: z.string().min(1).max(MAX_UNIT_LENGTH).optional(),
    activeLow: z.boolean().default(false),
    debounceMs: z.number().min(0).max(10_000).optional(),
    edge: z.enum(['rising', 'falling', 'both']).optional(),
    stateIntervalMs: z.number().int().min(100).optional(),
    windowMs: z.number().int().min(100).optional(),
    pulsesPerUnit: z.number().positive().optional(),
    ratePer: z.enum(['second', 'minute', 'hour']).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.mode !== 'state' && s.stateIntervalMs !== undefined) only(ctx, 'stateIntervalMs', 'mode: state');
    for (const k of ['windowMs', 'pulsesPerUnit', 'ratePer'] as const)
      if (s.mode !== 'pulses' && s[k] !== undefined) only(ctx, k, 'mode: pulses');
    if (s.mode === 'state' && s.edge !== undefined) only(ctx, 'edge', 'mode: edges or pulses');
    if (s.mode === 'pulses' && s.edge === 'both')
      ctx.addIssue({ code: 'custom', path: ['edge'], message: 'a pulse is counted on one edge: rising or falling' });
    // The header's chip has BCM lines 0-27; a higher number is a typo or a physical pin number.
    if (s.chipLabel === undefined && s.pin > HEADER_MAX_PIN) {
      ctx.addIssue({
        code: 'custom',
        path: ['pin'],
        message: `expected a BCM number of the Raspberry Pi header (0-${HEADER_MAX_PIN}), found ${s.pin} (for a line of another chip, set chipLabel)`,
      });
    }
  });

const source = z.discriminatedUnion('driver', [mqttSource, serialSource, modbusSource, gpioSource]);

export const configSchema = z
  .strictObject({
    gateway: z.strictObject({
      id: name,
      dataDir: z.string().min(1).default('/var/lib/sensorgate'),
    }),
    kafka: z
      .strictObject({
        brokers: z.array(hostPort).min(1),
        topic: z.string().min(1).max(249).default('sensor.readings'),
        statusTopic: z.string().min(1).max(249).default('sensorgate.status'),
        delivery: z.enum(['at-least-once', 'exactly-once']).default('at-least-once'),
        /** exactly-once: where each committed batch's highest seq is recorded (compacted, 1 partition). */
        offsetsTopic: z.string().min(1).max(249).default('sensorgate.offsets'),
        compression: z.enum(['none', 'gzip', 'lz4']).default('gzip'),
        /** Partitions for topics the gateway creates; -1 takes the broker's default. */
        partitions: z.number().int().min(-1).default(-1),
        replicationFactor: z.number().int().min(-1).default(-1),
        batchMaxRecords: z.number().int().min(1).max(100_000).default(5000),
        batchMaxBytes: z.number().int().min(1024).default(900_000),
        clientId: z.string().min(1).optional(),
        /** `true`: TLS verified against the system's CAs; an object adds a private CA, a client certificate (mutual TLS), a server name. */
        tls: z.union([z.boolean(), kafkaTls]).optional(),
        /** The older spelling of `tls: true`. */
        ssl: z.boolean().optional(),
        sasl: z
          .strictObject({
            mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
            username: z.string(),
            password: z.string(),
          })
          .optional(),
        /** For topics the gateway creates: default min(2, their replication factor). */
        minInsyncReplicas: z.number().int().min(1).optional(),
      })
      .superRefine((k, ctx) => {
        if (k.ssl !== undefined && k.tls !== undefined)
          ctx.addIssue({ code: 'custom', path: ['ssl'], message: 'ssl is the older name of tls: set one of them' });
        if (k.minInsyncReplicas !== undefined && k.replicationFactor > 0 && k.minInsyncReplicas > k.replicationFactor) {
          ctx.addIssue({
            code: 'custom',
            path: ['minInsyncReplicas'],
            message: `must not exceed replicationFactor (${k.replicationFactor}), or no write could ever be acknowledged`,
          });
        }
      }),
    buffer: z
      .strictObject({
        maxBytes: byteSize.pipe(z.number().min(1024, { message: 'must be at least 1KiB' })).default(1024 ** 3),
        whenFull: z.enum(['drop-oldest', 'reject-new']).default('drop-oldest'),
        /** Free space always left on the data dir's file system; the cap shrinks to respect it. */
        reserveBytes: byteSize.default(64 * 1024 ** 2),
        /** FULL makes every commit survive a power cut; NORMAL may lose the last commits on one. */
        synchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
        /** Group commit window: at most one fsync per window, however many readings arrive. */
        commitIntervalMs: z.number().int().min(0).max(10_000).default(20),
        quarantineMaxRows: z.number().int().min(0).default(10_000),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      })
      .prefault({}),
    status: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:8081'),
        /** How often the gateway publishes its GatewayStatus to kafka.statusTopic (also on state changes). */
        heartbeatIntervalMs: z.number().int().min(250).max(3_600_000).default(10_000),
        /** Bearer token (or Basic password) for the local page and API; required beyond loopback. */
        authToken: z.string().optional(),
      })
      .superRefine((s, ctx) => {
        const problem = listenProblem(s.listen.slice(0, s.listen.lastIndexOf(':')), s.authToken);
        if (problem) ctx.addIssue({ code: 'custom', path: ['authToken'], message: problem });
      })
      .prefault({}),
    sources: z.array(source).min(1, { message: 'expected at least one source' }),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.sources.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'id'], message: `duplicate source id "${s.id}"` });
      seen.add(s.id);
    });
  });

export type Config = z.output<typeof configSchema>;
export type SourceConfig = Config['sources'][number];
export type MqttSourceConfig = z.output<typeof mqttSource>;

/** Config problems, one readable line each, naming the key path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : (out ? '.' : '') + String(p);
  return out || '(root)';
}

/** Keys whose values are secrets: never printed (check, logs, error lines). */
export const SECRET_KEYS = new Set(['password', 'authToken']);

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
 * The JSON Schema of the config file (`sensorgate config schema`), generated from the same zod
 * schema that validates it, for editors (YAML language servers) and CI. It describes the input:
 * sizes may be numbers or strings with units, defaults may be left out.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
    title: 'sensorgate gateway config',
  };
}

type Obj = Record<string, unknown>;
/** The part of zod's schema introspection (`_zod.def`, `shape`) that walking the config by key needs. */
interface SchemaNode {
  _zod: {
    def: {
      type: string;
      innerType?: SchemaNode;
      in?: SchemaNode;
      element?: SchemaNode;
      options?: SchemaNode[];
      discriminator?: string;
      values?: unknown[];
    };
  };
  shape?: Record<string, SchemaNode>;
}
function unwrap(s: z.ZodType | SchemaNode): SchemaNode {
  // default/prefault/optional wrap the type we care about; a pipe (preprocess) its input.
  let cur = s as SchemaNode;
  while (cur._zod.def.innerType || cur._zod.def.type === 'pipe') cur = cur._zod.def.innerType ?? cur._zod.def.in!;
  return cur;
}
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

/**
 * `raw` validated by `schema` (a config of ours: the gateway's, the simulator's), or a ConfigError
 * with one line per problem.
 */
export function validateWith<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(problemLines(result.error.issues, { schema, raw }));
  return result.data;
}

/** Validate an already-parsed config object (env applied by the caller if wanted). */
export function validateConfig(raw: unknown): Readonly<Config> {
  return deepFreeze(validateWith(configSchema, raw));
}

/** A YAML file's top-level mapping, or a ConfigError with one line per problem. */
export function loadYamlMapping(file: string): Record<string, unknown> {
  const read = readYamlMapping(file);
  if ('problems' in read) throw new ConfigError(read.problems);
  return read.mapping;
}

/** A config file parsed and overlaid with SENSORGATE_* variables, not yet validated. */
function readConfigFile(file: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw = loadYamlMapping(file);
  const envProblems = applyEnv(raw, env);
  if (envProblems.length) throw new ConfigError(envProblems);
  return raw;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  return validateConfig(readConfigFile(file, env));
}

/**
 * Only the `kafka:` section of a config file, validated as the gateway validates it: `fleet` and
 * `consume` read a gateway's own file (its other sections are ignored) or one with just `kafka:`.
 */
export function loadKafkaConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config['kafka']> {
  const result = z.object({ kafka: configSchema.shape.kafka }).safeParse(readConfigFile(file, env));
  if (!result.success) throw new ConfigError(problemLines(result.error.issues));
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

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
