/**
 * The floor: the MQTT -> Kafka bridge one writes in an afternoon. Each message is decoded, sent to
 * Kafka with one awaited `producer.send` (acks=all), and only then acknowledged to the broker:
 * durable like the gateway, but one Kafka round trip per reading. Same codec and record format
 * as the gateway, so only the design differs. Run as its own process:
 *   node dist/gateway/bench/naive-bridge.js '{"mqttUrl":…,"prefix":…,"brokers":[…],"topic":…,"gateway":…}'
 * Prints {"event":"ready"} once subscribed; SIGTERM ends it.
 */
import mqtt from 'mqtt';
import { compileTopicPattern, decodePayload } from '../../drivers/mqtt/payload.js';
import { encodeRecord, recordHeaders, recordKey } from '../ingest/record.js';
import { Partitioners } from '../uplink/kafkajs.js';
import { benchKafka } from './peers.js';

export interface NaiveBridgeOptions {
  mqttUrl: string;
  prefix: string;
  brokers: string[];
  topic: string;
  gateway: string;
}

async function bridge(o: NaiveBridgeOptions): Promise<void> {
  const kafka = benchKafka(o.brokers, 'bench-naive-bridge');
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const names = compileTopicPattern(`${o.prefix}/{sensor}/{metric}`);
  const client = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  let seq = 0;
  // mqtt.js sends the PUBACK, and reads the next message, when this callback is called.
  client.handleMessage = (packet, done) => {
    const decoded = decodePayload(packet.payload as Buffer, names(packet.topic) ?? {}, 65536);
    if (!decoded.ok) return done();
    const { sensor, metric, value, unit, ts } = decoded.reading;
    const s = ++seq;
    const record = encodeRecord({
      gateway: o.gateway,
      source: 'mqtt',
      sensor,
      metric,
      value,
      unit,
      ts: ts ?? Date.now(),
      seq: s,
      bootId: 'naive',
      clockSynced: true,
    });
    producer
      .send({
        topic: o.topic,
        acks: -1,
        messages: [{ key: recordKey(o.gateway, sensor), value: record, headers: recordHeaders(o.gateway, s) }],
      })
      .then(
        () => done(),
        (err: Error) => done(err),
      );
  };
  await client.subscribeAsync(`${o.prefix}/#`, { qos: 1 });
  process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
  process.once('SIGTERM', () => {
    void Promise.allSettled([client.endAsync(true), producer.disconnect()]).then(() => process.exit(0));
  });
}

bridge(JSON.parse(process.argv[2] ?? '{}') as NaiveBridgeOptions).catch((err: Error) => {
  process.stderr.write(`naive bridge: ${err.message}\n`);
  process.exit(1);
});
