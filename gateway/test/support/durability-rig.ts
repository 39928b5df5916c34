/**
 * The rig of the end-to-end delivery tests (store and forward, crashes, the buffer's own disk
 * failing: damage, full disk, power cuts): a real Kafka, a real Mosquitto, `sensorgate run`
 * processes reading MQTT into Kafka, QoS 1 publishers, and checks.
 */
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type KafkaBroker, startKafka } from '../../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../../drivers/test/support/mosquitto.js';
import { type GatewayProcess, gatewayProcess } from './gateway-process.js';
import { type KafkaRecord, readTopic } from './kafka-reader.js';

export { assertSeqsUnique } from './kafka-reader.js';

import { publisher as openPublisher, type Publisher } from './publisher.js';

export interface Rig {
  kafka: KafkaBroker;
  mosquitto: Broker;
  /**
   * A gateway with its own id, topics and MQTT prefix, so that tests do not see each other's data.
   * Its start() waits until its MQTT source is subscribed unless `awaitSources` is false.
   */
  newGateway(extra?: {
    buffer?: object;
    kafka?: object;
    dataDir?: string;
    awaitSources?: boolean;
  }): Promise<{ g: GatewayProcess; id: string; topic: string; prefix: string; dataDir: string }>;
  /** Publishers and gateways are closed by close(), also when a test fails midway (else the process would not exit). */
  publisher(prefix: string, sensors: number): Promise<Publisher>;
  records(topic: string): Promise<KafkaRecord[]>;
  close(): Promise<void>;
}

/** The rig on a broker of `kafkaVersion` (default: the newest supported). */
export async function durabilityRig(kafkaVersion?: string): Promise<Rig> {
  const [kafka, mosquitto] = await Promise.all([startKafka({ version: kafkaVersion }), startBroker()]);
  const gateways: GatewayProcess[] = [];
  const publishers: Publisher[] = [];
  let n = 0;
  return {
    kafka,
    mosquitto,
    async newGateway(extra = {}) {
      const k = ++n;
      const id = `gw-${k}`;
      const g = await gatewayProcess(
        {
          gateway: { id, ...(extra.dataDir ? { dataDir: extra.dataDir } : {}) },
          kafka: {
            brokers: kafka.brokers,
            topic: `readings-${k}`,
            statusTopic: `status-${k}`,
            partitions: 3,
            ...extra.kafka,
          },
          buffer: { ...extra.buffer },
          sources: [
            {
              id: 'plant',
              driver: 'mqtt',
              url: mosquitto.url,
              topics: [`t${k}/#`],
              topicPattern: `t${k}/{sensor}/{metric}`,
            },
          ],
        },
        { awaitSources: extra.awaitSources ?? true },
      );
      gateways.push(g);
      return { g, id, topic: `readings-${k}`, prefix: `t${k}`, dataDir: extra.dataDir ?? join(g.dir, 'data') };
    },
    async publisher(prefix, sensors) {
      const p = await openPublisher(mosquitto.url, sensors, prefix);
      publishers.push(p);
      return p;
    },
    records: (topic) => readTopic(kafka.brokers, topic),
    async close() {
      for (const p of publishers) await p.close().catch(() => undefined);
      for (const g of gateways) await g.dispose();
      await mosquitto.destroy();
      await kafka.destroy();
    },
  };
}

/** Values each sensor published (0..n-1) that Kafka lacks, as "s<i>/<value>". */
export function missing(records: KafkaRecord[], published: number[]): string[] {
  const have = new Set(records.map((r) => `${r.value.sensor}/${r.value.value}`));
  const out: string[] = [];
  published.forEach((n, s) => {
    for (let v = 0; v < n; v++) if (!have.has(`s${s}/${v}`)) out.push(`s${s}/${v}`);
  });
  return out;
}

/** Overwrite `length` bytes at `offset` of a file with garbage. */
export function smash(file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(length, 0xa5), 0, length, offset);
  closeSync(fd);
}

/**
 * Fold a running gateway's WAL into its buffer file, as SQLite's automatic checkpoint does after
 * every few MiB of writes, from a connection of our own (WAL mode allows it). Until then the newest
 * pages live in the WAL, and damage to the file's copies of them would never be read.
 */
export function checkpoint(file: string): void {
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    db.close();
  }
}

/** PRAGMA integrity_check of a buffer file (and its WAL) as found, on a copy so nothing changes it. */
export function integrity(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-check-'));
  try {
    copyFileSync(file, join(dir, 'b.sqlite'));
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, join(dir, 'b.sqlite-wal'));
    const db = new Database(join(dir, 'b.sqlite'));
    try {
      return String(db.pragma('integrity_check', { simple: true }));
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
