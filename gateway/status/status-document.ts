/**
 * The status document as readers check it (docs/reference/status-and-metrics.md): the fields that
 * page names as required are required, later additions are optional so that older gateways still show.
 */
import { z } from 'zod';

const num = z.number();
const text = (max: number) => z.string().max(max);

const source = z.object({
  id: text(256),
  driver: text(64),
  state: text(32),
  detail: text(2000).optional(),
  lastReadingTs: num.nullable(),
  readings: num,
  rejected: num,
  rejectedByReason: z.record(text(64), num).optional(),
  ratePerS: num.optional(),
});

export const statusSchema = z.object({
  gateway: z.string().min(1).max(256),
  version: text(64),
  ts: num,
  uptimeS: num,
  bootId: text(128).optional(),
  clockSynced: z.boolean().optional(),
  running: z.boolean().optional(),
  heartbeatIntervalMs: z.number().int().min(250).max(3_600_000).optional(),
  buffer: z.object({
    depth: num,
    bytes: num,
    oldestTs: num.nullable(),
    oldestAgeS: num.nullable().optional(),
    nextSeq: num.optional(),
  }),
  uplink: z.object({
    connected: z.boolean(),
    sinceTs: num.optional(),
    lastAckTs: num.nullable(),
    lastError: text(4000).nullable(),
    lastErrorTs: num.nullable().optional(),
    sent: num.optional(),
    dropped: z.record(text(64), num).optional(),
  }),
  rates: z.object({ ingestPerS: num, sendPerS: num }).optional(),
  sources: z.array(source).max(1000),
  problems: z
    .array(z.object({ code: text(64), detail: text(2000), since: num }))
    .max(100)
    .optional(),
  host: z
    .object({
      hostname: text(256).optional(),
      arch: text(32).optional(),
      diskFreeBytes: num.nullable().optional(),
      diskTotalBytes: num.nullable().optional(),
      rssBytes: num.optional(),
      memFreeBytes: num.optional(),
      memTotalBytes: num.optional(),
      cpuTempC: num.nullable().optional(),
      load: z.array(num).max(3).optional(),
    })
    .optional(),
});

/** A GatewayStatus as the pages see it: from this version of the gateway or another. */
export type StatusView = z.infer<typeof statusSchema>;
