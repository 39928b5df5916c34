/**
 * The simulator's config (`sensorgate sim --config FILE`, and the demo's embedded setup): devices,
 * the physical model behind each, its faults and its rate, as a zod schema. Every problem has the
 * key path it concerns, and a fault or option that cannot apply to a device is an error rather
 * than silently ignored.
 *
 * Durations are milliseconds or text such as `500ms`, `30s`, `5m`, `12h`, `10d`. Model durations
 * (time to failure, thermal lag, duty cycles) are simulated time; fault schedules and device
 * intervals are real time.
 */

import { z } from 'zod';
import { nameSchema as name } from '../drivers/name-schema.js';
import { MACHINE_METRICS } from './models/machine.js';
import type { MetricInfo } from './models/model.js';
import { PUMP_METRICS } from './models/pump-flow.js';
import { SWITCH_METRICS } from './models/switch-contact.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

function durationSchema(signed: boolean) {
  const text = z.string().regex(DURATION, {
    message: 'must be a duration: milliseconds, or a number with ms, s, m, h or d (e.g. 30s, 10d)',
  });
  return z.union([signed ? z.number() : z.number().min(0), text]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const [, n, unit] = DURATION.exec(v)!;
    const ms = Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    if (!signed && ms < 0) ctx.addIssue({ code: 'custom', message: 'must not be negative' });
    return ms;
  });
}

const duration = durationSchema(false);
const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' });
const signedDuration = durationSchema(true);
const fraction = z.number().min(0).max(1);

// ---- models ----------------------------------------------------------------------------------

const machineModel = z
  .strictObject({
    type: z.literal('machine'),
    /** Simulated time from a new bearing to failure. */
    timeToFailure: positiveDuration.default(30 * UNIT_MS.d),
    lifeAtStart: z.number().min(0).max(0.999).default(0),
    baseVibration: z.number().positive().default(1.8),
    failureVibration: z.number().positive().default(11.2),
    /** Shape of the wear curve: 0 linear, larger later and steeper. */
    wearGrowth: z.number().min(0).max(20).default(4),
    vibrationNoise: z.number().min(0).max(1).default(0.08),
    replaceAtFailure: z.boolean().default(true),
    load: fraction.default(0.7),
    noLoadCurrent: z.number().min(0).default(5),
    ratedCurrent: z.number().positive().default(15),
    ambient: z.number().default(22),
    ambientSwing: z.number().min(0).default(3),
    thermalLag: positiveDuration.default(20 * UNIT_MS.m),
  })
  .refine((m) => m.failureVibration > m.baseVibration, {
    path: ['failureVibration'],
    message: 'must be above baseVibration',
  });

const pumpModel = z.strictObject({
  type: z.literal('pump'),
  /** L/min while running. */
  flow: z.number().positive().default(4),
  period: positiveDuration.default(2 * UNIT_MS.h),
  duty: z.number().gt(0).max(1).default(0.6),
  noise: z.number().min(0).max(1).default(0.03),
});

const switchModel = z.strictObject({
  type: z.literal('switch'),
  meanOpen: positiveDuration.default(10 * UNIT_MS.m),
  meanClosed: positiveDuration.default(30 * UNIT_MS.m),
});

const model = z.discriminatedUnion('type', [machineModel, pumpModel, switchModel]);
export type ModelConfig = z.output<typeof model>;

export const MODEL_METRICS: Record<ModelConfig['type'], readonly MetricInfo[]> = {
  machine: MACHINE_METRICS,
  pump: PUMP_METRICS,
  switch: SWITCH_METRICS,
};

// ---- faults ----------------------------------------------------------------------------------

/**
 * When a fault happens: with `probability` on each tick, or at `at` and then `every` (real time
 * since the device started), or, with neither, all the time. A lasting fault holds for `duration`
 * (default one tick); the others hit one tick.
 */
const trigger = {
  probability: fraction.optional(),
  at: duration.optional(),
  every: positiveDuration.optional(),
};
const lasting = { ...trigger, duration: duration.optional() };

const fault = z
  .discriminatedUnion('type', [
    /** Line noise: bytes outside printable ASCII inside one frame (serial). */
    z.strictObject({ type: z.literal('garbage'), ...trigger }),
    /** A transmission error that the frame's *HH checksum catches (serial line with checksums). */
    z.strictObject({ type: z.literal('bad_checksum'), ...trigger }),
    /** Broken JSON from buggy firmware: a truncated object (serial jsonl, MQTT). */
    z.strictObject({ type: z.literal('malformed'), ...trigger }),
    /** One metric reads `factor` times its value for one sample (EMI, a loose connector). */
    z.strictObject({ type: z.literal('spike'), ...trigger, factor: z.number().positive().default(8) }),
    /** Modbus: a reply with a corrupted CRC; no reply; an exception (slave busy). */
    z.strictObject({ type: z.literal('bad_crc'), ...trigger }),
    z.strictObject({ type: z.literal('timeout'), ...trigger }),
    z.strictObject({ type: z.literal('busy'), ...trigger }),
    /** `count` samples per tick instead of one (a device flushing its log, a chatty mode). */
    z.strictObject({ type: z.literal('burst'), ...lasting, count: z.number().int().min(2).max(1000).default(20) }),
    /** The device says nothing (brown-out, a hung sensor bus); its physics go on. */
    z.strictObject({ type: z.literal('dropout'), ...lasting }),
    /** Every metric repeats the last value (a frozen ADC, a stuck firmware loop). */
    z.strictObject({ type: z.literal('stuck'), ...lasting }),
    /** Serial/Modbus: the adapter is pulled; its device node disappears until it is plugged back. */
    z.strictObject({ type: z.literal('unplug'), ...lasting }),
    /**
     * MQTT: the device loses its connection; it keeps its readings and publishes them once back.
     * Sparkplug: the edge node drops off (its will is its death) and is born again, with new aliases.
     * Modbus TCP: the slave is switched off (connections dropped, connects refused).
     */
    z.strictObject({ type: z.literal('disconnect'), ...lasting }),
    /** The device clock is off by `offset` and runs at `rate` (1.01: 1% fast) from the fault's start. */
    z.strictObject({
      type: z.literal('clock_skew'),
      ...lasting,
      rate: z.number().positive().default(1),
      offset: signedDuration.default(0),
    }),
  ])
  .superRefine((f, ctx) => {
    if (f.probability !== undefined && (f.at !== undefined || f.every !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['probability'], message: 'either probability, or at/every: not both' });
    }
  });
export type FaultConfig = z.output<typeof fault>;
export type FaultType = FaultConfig['type'];

// ---- devices ---------------------------------------------------------------------------------

const common = {
  id: name,
  /** The sensor name in the readings; default the id. */
  sensor: name.optional(),
  /** Which gateway reads it (the demo's grouping; `sim` prints sources per group). */
  gateway: name.optional(),
  /** Real time between samples. */
  intervalMs: z.number().int().min(10).max(3_600_000).default(1000),
  /** Simulated ms per real ms for this device's model; default the top-level timeScale. */
  timeScale: z.number().positive().optional(),
  model,
  faults: z.array(fault).default([]),
};

const serialDevice = z.strictObject({
  ...common,
  transport: z.literal('serial'),
  format: z.enum(['line', 'jsonl']).default('line'),
  /** line: append *HH to every frame. */
  checksum: z.boolean().default(true),
  /** Send the device's own time with each reading (it has a clock). */
  timestamps: z.boolean().default(true),
  baudRate: z.number().int().positive().default(115200),
});

const register = z.strictObject({
  metric: name,
  table: z.enum(['holding', 'input']).default('input'),
  address: z.number().int().min(0).max(65535),
  type: z.enum(['int16', 'uint16', 'int32', 'uint32', 'float32']).default('float32'),
  wordOrder: z.enum(['big', 'little']).default('big'),
  /** value = raw × scale, as the gateway's register option of the same name. */
  scale: z.number().positive().default(1),
});
export type RegisterConfig = z.output<typeof register>;

const modbusDevice = z.strictObject({
  ...common,
  transport: z.literal('modbus'),
  unitId: z.number().int().min(1).max(247).default(1),
  baudRate: z.number().int().positive().default(19200),
  /** Where each metric is served; default every metric as float32 in input registers 0, 2, 4 … */
  registers: z.array(register).min(1).optional(),
});

const modbusTcpDevice = z.strictObject({
  ...common,
  transport: z.literal('modbus-tcp'),
  unitId: z.number().int().min(1).max(247).default(1),
  /** TCP port on 127.0.0.1; 0: a free one (shown by `describe` and in the gateway source). */
  port: z.number().int().min(0).max(65535).default(0),
  registers: z.array(register).min(1).optional(),
});

/** A Sparkplug B edge node with one device (named by `sensor`, default the id) carrying the model's metrics. */
const sparkplugDevice = z.strictObject({
  ...common,
  transport: z.literal('sparkplug'),
  url: z
    .string()
    .regex(/^(mqtts?|wss?):\/\/.+/, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' })
    .optional(),
  group: name.default('plant'),
  node: name.default('edge-1'),
});

const mqttDevice = z.strictObject({
  ...common,
  transport: z.literal('mqtt'),
  /** Broker; default the top-level mqttUrl. */
  url: z
    .string()
    .regex(/^(mqtts?|wss?):\/\/.+/, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' })
    .optional(),
  /** Readings go to <topicPrefix>/<sensor>/<metric>. */
  topicPrefix: z
    .string()
    .regex(/^[^#+]+$/, { message: 'must not contain MQTT wildcards' })
    .default('plant'),
  qos: z.union([z.literal(0), z.literal(1)]).default(1),
  timestamps: z.boolean().default(true),
});

const gpioDevice = z.strictObject({
  ...common,
  transport: z.literal('gpio'),
  /** BCM line of the simulated chip. */
  pin: z.number().int().min(0).max(53),
  /** The model metric on the pin; default its first. */
  metric: name.optional(),
  /** A pulse output (a flow meter): pulses per unit of the metric, which is per minute. Without it the pin is a level (metric > 0.5 is high). */
  pulsesPerUnit: z.number().positive().optional(),
  /** A level that is a mechanical contact: each change bounces (default true). */
  bounce: z.boolean().optional(),
});

const device = z
  .discriminatedUnion('transport', [
    serialDevice,
    modbusDevice,
    modbusTcpDevice,
    mqttDevice,
    sparkplugDevice,
    gpioDevice,
  ])
  .superRefine((d, ctx) => {
    const metrics = MODEL_METRICS[d.model.type].map((m) => m.name);
    const noMetric = (m: string) => `the ${d.model.type} model has no metric "${m}" (it has ${metrics.join(', ')})`;
    const allowed = faultsFor(d);
    d.faults.forEach((f, i) => {
      if (!allowed.includes(f.type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'type'],
          message: `${f.type} does not apply to ${describeKind(d)} (it can have: ${allowed.join(', ')})`,
        });
      }
      if ('duration' in f && f.duration !== undefined && f.duration < d.intervalMs && f.type !== 'clock_skew') {
        ctx.addIssue({
          code: 'custom',
          path: ['faults', i, 'duration'],
          message: `shorter than the device's intervalMs (${d.intervalMs} ms): it would never be seen`,
        });
      }
    });
    if ((d.transport === 'modbus' || d.transport === 'modbus-tcp') && d.registers) {
      const used = new Map<number, string>();
      d.registers.forEach((r, i) => {
        if (!metrics.includes(r.metric))
          ctx.addIssue({ code: 'custom', path: ['registers', i, 'metric'], message: noMetric(r.metric) });
        const words = r.type === 'int16' || r.type === 'uint16' ? 1 : 2;
        for (let w = 0; w < words; w++) {
          const key = (r.table === 'input' ? 0x10000 : 0) + r.address + w;
          const other = used.get(key);
          if (other !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: ['registers', i, 'address'],
              message: `overlaps the register of ${other}`,
            });
          used.set(key, r.metric);
        }
      });
    }
    if (d.transport === 'gpio') {
      if (d.metric !== undefined && !metrics.includes(d.metric))
        ctx.addIssue({ code: 'custom', path: ['metric'], message: noMetric(d.metric) });
      if (d.bounce !== undefined && d.pulsesPerUnit !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['bounce'],
          message: 'only applies to a level pin (without pulsesPerUnit)',
        });
    }
  });
export type DeviceConfig = z.output<typeof device>;

function describeKind(d: { transport: string; format?: string; checksum?: boolean }): string {
  if (d.transport === 'serial')
    return `a serial ${d.format} device${d.format === 'line' && !d.checksum ? ' without checksums' : ''}`;
  return `a ${d.transport} device`;
}

/** The faults a device of this kind can show. */
export function faultsFor(d: {
  transport: DeviceConfig['transport'];
  format?: 'line' | 'jsonl';
  checksum?: boolean;
}): FaultType[] {
  const values: FaultType[] = ['dropout', 'stuck', 'spike'];
  switch (d.transport) {
    case 'serial':
      return d.format === 'line'
        ? ['garbage', ...(d.checksum ? ['bad_checksum' as const] : []), ...values, 'burst', 'unplug', 'clock_skew']
        : ['garbage', 'malformed', ...values, 'burst', 'unplug', 'clock_skew'];
    case 'modbus':
      return ['bad_crc', 'timeout', 'busy', ...values, 'unplug'];
    case 'modbus-tcp':
      return ['bad_crc', 'timeout', 'busy', ...values, 'disconnect'];
    case 'mqtt':
      return ['malformed', ...values, 'burst', 'disconnect', 'clock_skew'];
    case 'sparkplug':
      return [...values, 'burst', 'disconnect', 'clock_skew'];
    case 'gpio':
      return ['dropout', 'stuck'];
  }
}

// ---- the file --------------------------------------------------------------------------------

export const simConfigSchema = z
  .strictObject({
    /** Same seed and config, same values. */
    seed: z.union([z.number().int(), z.string().min(1)]).default(1),
    /** Simulated ms per real ms: 1440 makes a day pass in a minute. */
    timeScale: z.number().positive().default(1),
    /** Broker of MQTT devices that do not name their own. */
    mqttUrl: z
      .string()
      .regex(/^(mqtts?|wss?):\/\/.+/, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' })
      .optional(),
    devices: z.array(device).min(1, { message: 'at least one device is required' }),
  })
  .superRefine((cfg, ctx) => {
    const ids = new Set<string>();
    const pins = new Map<string, string>();
    const nodes = new Map<string, string>();
    cfg.devices.forEach((d, i) => {
      if (ids.has(d.id))
        ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `duplicate device id "${d.id}"` });
      ids.add(d.id);
      if (d.transport === 'sparkplug') {
        // One MQTT connection is one edge node: two devices claiming it would knock each other off.
        const other = nodes.get(`${d.group}/${d.node}`);
        if (other !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'node'],
            message: `edge node ${d.group}/${d.node} is already simulated by ${other}`,
          });
        nodes.set(`${d.group}/${d.node}`, d.id);
      }
      if ((d.transport === 'mqtt' || d.transport === 'sparkplug') && d.url === undefined && cfg.mqttUrl === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'url'],
          message: 'required: no top-level mqttUrl to default to',
        });
      }
      if (d.transport === 'gpio') {
        const key = `${d.gateway ?? ''}/${d.pin}`;
        const other = pins.get(key);
        if (other !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'pin'],
            message: `pin ${d.pin} is already used by ${other}`,
          });
        pins.set(key, d.id);
      }
    });
    // A serial or Modbus RTU device's pseudo-terminal is <devDir>/<id> at the gateway's end and
    // <devDir>/<id>.sim at its own, so ids "x" and "x.sim" would share a path and unplugging one
    // would delete the other's.
    const onPty = (d: { transport: string }) => d.transport === 'serial' || d.transport === 'modbus';
    const ptyIds = new Set(cfg.devices.filter(onPty).map((d) => d.id));
    cfg.devices.forEach((d, i) => {
      const base = d.id.slice(0, -'.sim'.length);
      if (onPty(d) && d.id.endsWith('.sim') && ptyIds.has(base))
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'id'],
          message: `pseudo-terminal path ${d.id} is already the simulated end of ${base}; choose another id`,
        });
    });
  });

export type SimConfig = z.output<typeof simConfigSchema>;

/**
 * A config known to be valid (the demo plant's, a test's), parsed with its defaults filled in; it
 * throws zod's error otherwise. Configs people write are validated by the command line, which
 * reports each problem as one line naming its key path (`sensorgate sim`).
 */
export function parseSimConfig(raw: unknown): SimConfig {
  return simConfigSchema.parse(raw);
}
