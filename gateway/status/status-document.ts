/**
 * The status document (docs/reference/status-and-metrics.md), defined once. `gatewayStatusSchema` is what this
 * gateway writes: every field present. `statusSchema` is how readers check a document from any
 * gateway: the fields that page lists as required are required, later additions are optional so that
 * older gateways still show, and fields a newer gateway adds are not refused.
 * Browser code imports these types too: nothing here may use Node.
 */
import { z } from 'zod';
import { MAX_PROBLEMS } from './problem-limit.js';

const num = z.number();
const text = (max: number) => z.string().max(max);

const sourceStatus = z.object({
  id: text(256),
  driver: text(64),
  /** A DriverState; plain text here, so that a newer gateway's states still read. */
  state: text(32),
  detail: text(2000).optional(),
  lastReadingTs: num.nullable(),
  readings: num,
  rejected: num,
  rejectedByReason: z.record(text(64), num),
  /** Readings/s taken in from this source over the last minute. */
  ratePerS: num,
});

/**
 * Something wrong now, in words an operator can act on. `code` is stable (dashboards and alerts
 * match on it, see ProblemCode); `since` is when it began.
 */
const problem = z.object({ code: text(64), detail: text(2000), since: num });

const bufferStatus = z.object({
  depth: num,
  bytes: num,
  oldestTs: num.nullable(),
  oldestAgeS: num.nullable(),
  /**
   * Seconds until the buffer is empty at the last minute's rates (sent minus taken in); 0 when it
   * is, null while it is not shrinking (the uplink down, or readings arriving as fast as they go).
   */
  drainEtaS: num.nullable(),
  nextSeq: num,
  /**
   * The seq reservation: every seq this gateway has handed out is below it. A gateway whose data
   * dir was lost reads it back from its last status to number on above it.
   */
  seqReserved: num,
});

const uplinkStatus = z.object({
  connected: z.boolean(),
  /** When `connected` last changed (or the gateway started). */
  sinceTs: num,
  lastAckTs: num.nullable(),
  lastError: text(4000).nullable(),
  lastErrorTs: num.nullable(),
  sent: num,
  dropped: z.record(text(64), num),
});

/** Facts about the device the gateway runs on; null where this machine cannot say. */
const hostFacts = z.object({
  hostname: text(256),
  arch: text(32),
  /** Free bytes for the gateway (not root's reserve) on the filesystem of gateway.dataDir. */
  diskFreeBytes: num.nullable(),
  diskTotalBytes: num.nullable(),
  rssBytes: num,
  memFreeBytes: num,
  memTotalBytes: num,
  /** thermal_zone0 (the SoC on a Raspberry Pi); null where there is none (VMs, containers). */
  cpuTempC: num.nullable(),
  /** 1, 5 and 15 minute load averages. */
  load: z.array(num).max(3),
});

export const gatewayStatusSchema = z.object({
  gateway: z.string().min(1).max(256),
  version: text(64),
  ts: num,
  uptimeS: num,
  bootId: text(128),
  clockSynced: z.boolean(),
  /** False only in the last heartbeat a gateway sends while shutting down. */
  running: z.boolean(),
  /** How often this gateway publishes its status; the fleet judges silence against it. */
  heartbeatIntervalMs: z.number().int().min(250).max(3_600_000),
  buffer: bufferStatus,
  uplink: uplinkStatus,
  /** Readings/s over the last minute: taken into the buffer, and acknowledged by Kafka. */
  rates: z.object({ ingestPerS: num, sendPerS: num }),
  sources: z.array(sourceStatus).max(1000),
  /** What is wrong now; empty when nothing is. */
  problems: z.array(problem).max(MAX_PROBLEMS),
  host: hostFacts,
});

/** The reader: the same document with the fields added after the README's list made optional. */
export const statusSchema = gatewayStatusSchema
  .extend({
    buffer: bufferStatus.partial({ oldestAgeS: true, drainEtaS: true, nextSeq: true, seqReserved: true }),
    uplink: uplinkStatus.partial({ sinceTs: true, lastErrorTs: true, sent: true, dropped: true }),
    sources: z.array(sourceStatus.partial({ rejectedByReason: true, ratePerS: true })).max(1000),
    host: hostFacts.partial(),
  })
  .partial({
    bootId: true,
    clockSynced: true,
    running: true,
    heartbeatIntervalMs: true,
    rates: true,
    problems: true,
    host: true,
  });

/** What this gateway publishes (heartbeat, /api/status). */
export type GatewayStatus = z.infer<typeof gatewayStatusSchema>;
export type SourceStatus = z.infer<typeof sourceStatus>;
export type Problem = z.infer<typeof problem>;
export type HostFacts = z.infer<typeof hostFacts>;
/** A GatewayStatus as the pages see it: from this version of the gateway or another. */
export type StatusView = z.infer<typeof statusSchema>;
