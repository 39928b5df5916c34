/**
 * The gateway config's schema (docs/reference/config.md): every key, its type, default and the
 * rules between keys. Types are derived from it; `config schema` prints it as JSON Schema.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { nameSchema as name } from '../../drivers/name-schema.js';
import { MAX_UNIT_LENGTH } from '../../drivers/names.js';
import { listenProblem } from '../web/auth.js';

/** HOST:PORT (or [v6addr]:PORT). The port is range-checked too: one no socket takes would pass check and fail run. */
const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, { message: 'must be HOST:PORT' })
  .refine(
    (s) => {
      const port = /:(\d+)$/.exec(s)?.[1];
      // No port at all is the regex's line, not a second one here.
      return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    },
    { message: 'the port must be 1-65535' },
  );
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
    ca: pemFile.optional(),
    cert: pemFile.optional(),
    key: pemFile.optional(),
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
        /**
         * After an outage: `in-order` sends the backlog before anything newer (each sensor's readings
         * arrive in order); `live-first` sends new readings at once and drains the backlog behind them.
         */
        drain: z.enum(['in-order', 'live-first']).default('in-order'),
        /** The Kafka client library of the uplink: kafkajs, or @platformatic/kafka (at-least-once only). */
        client: z.enum(['kafkajs', 'platformatic']).default('kafkajs'),
        /** exactly-once: where each committed batch's highest seq is recorded (compacted, 1 partition). */
        offsetsTopic: z.string().min(1).max(249).default('sensorgate.offsets'),
        compression: z.enum(['none', 'gzip', 'lz4']).default('lz4'),
        /** Partitions for topics the gateway creates; -1 takes the broker's default. */
        partitions: z.number().int().min(-1).default(-1),
        replicationFactor: z.number().int().min(-1).default(-1),
        batchMaxRecords: z.number().int().min(1).max(100_000).default(5000),
        batchMaxBytes: z.number().int().min(1024).default(900_000),
        /**
         * A small batch (under a tenth of both limits) waits until this long after the previous send,
         * to take along what arrives meanwhile: a slow stream makes fewer, larger sends.
         */
        lingerMs: z.number().int().min(0).max(10_000).default(250),
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
        // Exactly-once resumes from one committed high-water seq: readings sent ahead of an unsent
        // backlog would put that mark above readings Kafka never got.
        if (k.drain === 'live-first' && k.delivery === 'exactly-once')
          ctx.addIssue({
            code: 'custom',
            path: ['drain'],
            message: 'live-first needs delivery: at-least-once (exactly-once commits in seq order)',
          });
        if (k.ssl !== undefined && k.tls !== undefined)
          ctx.addIssue({ code: 'custom', path: ['ssl'], message: 'ssl is the older name of tls: set one of them' });
        if (k.client === 'platformatic' && k.delivery === 'exactly-once') {
          ctx.addIssue({
            code: 'custom',
            path: ['client'],
            message:
              'kafka.client platformatic sends at-least-once only: with kafka.delivery exactly-once use kafka.client kafkajs',
          });
        }
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
        /**
         * Group commit: the longest a reading waits for its commit. Sooner once 256 readings wait,
         * but at most one commit per 20 ms (50 fsyncs a second) at any load.
         */
        commitIntervalMs: z.number().int().min(0).max(10_000).default(100),
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

/** Keys whose values are secrets: never printed (check, logs, error lines). */
export const SECRET_KEYS = new Set(['password', 'authToken']);

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
