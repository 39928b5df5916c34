/**
 * A record of the status topic, read defensively: anyone who can produce to the topic can put
 * anything there, so a record is checked against the GatewayStatus shape (README: Kafka records: the fields
 * listed there are required, later additions are optional so older gateways still show) and
 * refused with a reason otherwise. The schema validates; the record's own object is kept, so
 * fields a newer gateway adds pass through to /api/gateways.
 */
import { z } from 'zod';

/** Larger than any real status (a few KB): a record beyond this is refused unread. */
export const MAX_STATUS_BYTES = 256 * 1024;

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
  buffer: z.object({ depth: num, bytes: num, oldestTs: num.nullable(), oldestAgeS: num.nullable().optional(), nextSeq: num.optional() }),
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
  problems: z.array(z.object({ code: text(64), detail: text(2000), since: num })).max(100).optional(),
  host: z.object({
    hostname: text(256).optional(),
    arch: text(32).optional(),
    diskFreeBytes: num.nullable().optional(),
    diskTotalBytes: num.nullable().optional(),
    rssBytes: num.optional(),
    memFreeBytes: num.optional(),
    memTotalBytes: num.optional(),
    cpuTempC: num.nullable().optional(),
    load: z.array(num).max(3).optional(),
  }).optional(),
});

/** A GatewayStatus as the pages see it: from this version of the gateway or another. */
export type StatusView = z.infer<typeof statusSchema>;

export type StatusRecord =
  | { kind: 'status'; id: string; status: StatusView }
  | { kind: 'tombstone'; id: string }
  | { kind: 'rejected'; reason: 'no_key' | 'too_large' | 'invalid_json' | 'invalid_status' | 'key_mismatch'; detail: string };

export function parseStatusRecord(key: Buffer | null, value: Buffer | null): StatusRecord {
  if (!key || key.length === 0) return { kind: 'rejected', reason: 'no_key', detail: 'record without a key' };
  const id = key.toString('utf8');
  // A null value is a tombstone: someone removed this gateway from the topic.
  if (value === null) return { kind: 'tombstone', id };
  if (value.length > MAX_STATUS_BYTES) return { kind: 'rejected', reason: 'too_large', detail: `${id}: ${value.length} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { kind: 'rejected', reason: 'invalid_json', detail: `${id}: ${(err as Error).message}` };
  }
  const parsed = statusSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { kind: 'rejected', reason: 'invalid_status', detail: `${id}: ${first?.path.join('.') || '(root)'}: ${first?.message}` };
  }
  if (parsed.data.gateway !== id) return { kind: 'rejected', reason: 'key_mismatch', detail: `key ${id} carries the status of ${parsed.data.gateway}` };
  // Validated, and the schema transforms nothing: the original keeps every field, known or not.
  return { kind: 'status', id, status: json as StatusView };
}
