/**
 * An idle uplink must not keep the process awake: kafkajs 2.2.4 re-armed a timer on every
 * connection about a thousand times a second (see uplink/kafkajs-idle-fix.ts). Counted, not
 * timed: the timers created while a connected uplink sits idle against a real broker.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { validateConfig } from '../config/config.js';
import { KafkaUplink } from '../uplink/kafka-uplink.js';

let kafka: KafkaBroker;
before(async () => {
  kafka = await startKafka();
});
after(() => kafka?.destroy());

test('a connected, idle uplink creates a handful of timers a second, not a thousand', async (t) => {
  const cfg = validateConfig({
    gateway: { id: 'gw-idle' },
    kafka: { brokers: kafka.brokers, topic: 'idle', statusTopic: 'idle.status' },
    sources: [{ id: 'x', driver: 'mqtt', url: 'mqtt://127.0.0.1:1', topics: ['x'] }],
  }).kafka;
  const uplink = new KafkaUplink(cfg, 'gw-idle', pino({ level: 'silent' }));
  await uplink.connect();
  // A send and a check: each connection's request queue has been used, as in a running gateway.
  await uplink.send([{ seq: 1, key: 'gw-idle/s', value: '{"seq":1}', ts: Date.now(), bytes: 30 }]);
  await uplink.check();
  let timers = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout') timers++;
    },
  }).enable();
  await new Promise((r) => setTimeout(r, 3000));
  hook.disable();
  await uplink.close();
  t.diagnostic(`${timers} timers in 3 s of idling`);
  assert.ok(timers < 100, `${timers} timers created in 3 s by an idle uplink`);
});
