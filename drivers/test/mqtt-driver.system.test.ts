/** The MQTT driver against a real Mosquitto: TLS, passwords, several subscriptions, limits. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { MqttDriver, type MqttSourceOptions } from '../mqtt/mqtt-driver.js';
import { driverContract } from './driver-contract.js';
import { type Broker, type BrokerOptions, sourceOptions, startBroker } from './support/mosquitto.js';
import { RecordingSink, StalledSink, until } from './support/recording-sink.js';

const options = (url: string, over: Partial<MqttSourceOptions> = {}) =>
  sourceOptions({ id: 'plant-mqtt', url, topics: ['plant/+/+'], topicPattern: 'plant/{sensor}/{metric}', ...over });

async function publisher(broker: Broker, extra: IClientOptions = {}): Promise<MqttClient> {
  const certs = broker.certs;
  return mqtt.connectAsync(broker.url, {
    reconnectPeriod: 200,
    ...(certs
      ? { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }
      : {}),
    ...extra,
  });
}

/** Inside a describe: a broker started before its tests and a publisher connected to it, both gone after them. */
function brokerAndPublisher(
  settings: BrokerOptions = {},
  extra: IClientOptions = {},
): { broker: Broker; pub: MqttClient } {
  const env = {} as { broker: Broker; pub: MqttClient };
  before(async () => {
    env.broker = await startBroker(settings);
    env.pub = await publisher(env.broker, extra);
  });
  after(async () => {
    await env.pub.endAsync();
    await env.broker.destroy();
  });
  return env;
}

/** Start a driver and wait until it has subscribed (a probe message comes through). */
async function startReading(
  driver: MqttDriver,
  sink: RecordingSink,
  pub: MqttClient,
  probeTopic = 'plant/probe/x',
): Promise<void> {
  await driver.start(sink);
  await until(
    'subscribed',
    () => sink.readings.some((r) => r.sensor === 'probe'),
    () => pub.publishAsync(probeTopic, '1', { qos: 1 }),
  );
}

describe('mqtt driver over TLS with client certificates', () => {
  const env = brokerAndPublisher({ tls: { requireClientCert: true } });

  test('with the CA, certificate and key files, readings arrive', async () => {
    const c = env.broker.certs!;
    const driver = new MqttDriver(options(env.broker.url, { ca: c.ca, cert: c.clientCert, key: c.clientKey }));
    const sink = new RecordingSink();
    try {
      await startReading(driver, sink, env.pub);
      await env.pub.publishAsync('plant/pump-3/temp', '{"value": 71.3, "unit": "C", "ts": 1732400000123}', { qos: 1 });
      await until('the reading', () => sink.readings.some((r) => r.sensor === 'pump-3'));
      assert.deepEqual(
        sink.readings.find((r) => r.sensor === 'pump-3'),
        { sensor: 'pump-3', metric: 'temp', value: 71.3, unit: 'C', ts: 1732400000123 },
      );
      assert.equal(sink.lastState, 'up');
    } finally {
      await driver.stop();
    }
  });

  test('without a client certificate, or trusting the wrong CA, the source is down and says why', async () => {
    const c = env.broker.certs!;
    for (const [what, over, why] of [
      ['no client certificate', { ca: c.ca }, /certificate|handshake|closed|ECONNRESET/i],
      ['a CA that did not sign the broker', { ca: c.otherCa, cert: c.clientCert, key: c.clientKey }, /certificate/i],
    ] as const) {
      const driver = new MqttDriver(options(env.broker.url, over));
      const sink = new RecordingSink();
      await driver.start(sink);
      try {
        await until(`down (${what})`, () => sink.states.some((s) => s.state === 'down' && why.test(s.detail ?? '')));
        assert.ok(!sink.states.some((s) => s.state === 'up'), what);
      } finally {
        await driver.stop();
      }
    }
  });

  test('a TLS file that cannot be read is an error naming the option', async () => {
    const driver = new MqttDriver(options(env.broker.url, { ca: '/nonexistent/ca.pem' }));
    await assert.rejects(
      driver.start(new RecordingSink()),
      /source "plant-mqtt": cannot read ca file \/nonexistent\/ca.pem: ENOENT/,
    );
  });
});

describe('mqtt driver with username and password', () => {
  const env = brokerAndPublisher(
    { users: { gateway: 's3cret', sensor: 'pw' } },
    { username: 'sensor', password: 'pw' },
  );

  test('the right password gets readings; a wrong one is down, not authorised', async () => {
    const good = new MqttDriver(options(env.broker.url, { username: 'gateway', password: 's3cret' }));
    const sink = new RecordingSink();
    try {
      await startReading(good, sink, env.pub);
    } finally {
      await good.stop();
    }
    const bad = new MqttDriver(options(env.broker.url, { username: 'gateway', password: 'wrong' }));
    const badSink = new RecordingSink();
    await bad.start(badSink);
    try {
      await until('refused', () =>
        badSink.states.some((s) => s.state === 'down' && /not authori[sz]ed|bad user/i.test(s.detail ?? '')),
      );
      assert.ok(!badSink.states.some((s) => s.state === 'up'));
    } finally {
      await bad.stop();
    }
  });

  test('refused, then the password is added on the broker: the source comes up by itself', async () => {
    const driver = new MqttDriver(options(env.broker.url, { username: 'late', password: 'added-later' }));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('refused', () =>
        sink.states.some((s) => s.state === 'down' && /not authori[sz]ed|bad user/i.test(s.detail ?? '')),
      );
      env.broker.setUser('late', 'added-later');
      await until(
        'up with readings, without a restart',
        () => sink.readings.some((r) => r.sensor === 'probe'),
        () => env.pub.publishAsync('plant/probe/x', '1', { qos: 1 }),
      );
    } finally {
      await driver.stop();
    }
  });
});

describe('mqtt driver subscriptions and limits', () => {
  const env = brokerAndPublisher();

  test('several subscriptions, each layout with its own topic pattern', async () => {
    const driver = new MqttDriver(
      options(env.broker.url, {
        topics: ['plant/+/+', 'legacy/#'],
        topicPattern: ['plant/{sensor}/{metric}', 'legacy/{sensor}/data/{metric}'],
      }),
    );
    const sink = new RecordingSink();
    try {
      await startReading(driver, sink, env.pub);
      await until(
        'legacy subscribed',
        () => sink.readings.some((r) => r.sensor === 'old-probe'),
        () => env.pub.publishAsync('legacy/old-probe/data/x', '1', { qos: 1 }),
      );
      await env.pub.publishAsync('plant/pump-1/temp', '20.5', { qos: 1 });
      await env.pub.publishAsync('legacy/boiler-2/data/pressure', '{"value": 3.2, "unit": "bar"}', { qos: 1 });
      // Matches the subscription but neither pattern, and names nothing itself.
      await env.pub.publishAsync('legacy/boiler-2/status', '1', { qos: 1 });
      await until('all three', () => sink.readings.length + sink.rejections.length >= 5);
      assert.deepEqual(
        sink.readings.filter((r) => !/probe/.test(r.sensor)),
        [
          { sensor: 'pump-1', metric: 'temp', value: 20.5 },
          { sensor: 'boiler-2', metric: 'pressure', value: 3.2, unit: 'bar' },
        ],
      );
      assert.deepEqual(sink.reasons(), { missing_field: 1 });
    } finally {
      await driver.stop();
    }
  });

  test('a payload over maxPayloadBytes is rejected as too_large and the next one still arrives', async () => {
    const driver = new MqttDriver(options(env.broker.url, { maxPayloadBytes: 64 }));
    const sink = new RecordingSink();
    try {
      await startReading(driver, sink, env.pub);
      await env.pub.publishAsync('plant/pump-1/blob', JSON.stringify({ value: 1, unit: 'x', pad: 'y'.repeat(200) }), {
        qos: 1,
      });
      await env.pub.publishAsync('plant/pump-1/temp', '21', { qos: 1 });
      await until('the next reading', () => sink.readings.some((r) => r.sensor === 'pump-1'));
      assert.deepEqual(sink.reasons(), { too_large: 1 });
    } finally {
      await driver.stop();
    }
  });

  test('above maxRatePerS the excess is rejected as rate_limited and counted; every message is accounted for', async () => {
    const driver = new MqttDriver(options(env.broker.url, { maxRatePerS: 10, maxBurst: 10 }));
    const sink = new RecordingSink();
    try {
      await startReading(driver, sink, env.pub);
      const before = sink.readings.length;
      const flood = 200;
      await Promise.all(
        Array.from({ length: flood }, (_, i) => env.pub.publishAsync('plant/chatty/n', String(i), { qos: 1 })),
      );
      await until('the whole flood handled', () => sink.readings.length - before + sink.rejections.length >= flood);
      const accepted = sink.readings.length - before;
      assert.equal(accepted + sink.rejections.length, flood);
      assert.deepEqual(Object.keys(sink.reasons()), ['rate_limited']);
      assert.ok(accepted >= 1 && accepted < flood / 2, `accepted ${accepted} of ${flood}`);
      // The limit is a rate, not a ban: later messages get through again.
      await until(
        'accepted again',
        () => sink.readings.some((r) => r.sensor === 'later'),
        () => env.pub.publishAsync('plant/later/n', '1', { qos: 1 }),
      );
    } finally {
      await driver.stop();
    }
  });
});

driverContract(
  'mqtt',
  async () => {
    const broker = await startBroker();
    const pub = await publisher(broker);
    let n = 0;
    return {
      create: () => new MqttDriver(options(broker.url)),
      device: {
        produce: async () => {
          if (pub.connected) await pub.publishAsync('plant/pump-3/temp', String(60 + (n++ % 10)), { qos: 1 });
        },
        unplug: () => broker.stop(),
        replug: () => broker.start(),
      },
      async close() {
        await pub.endAsync(true);
        await broker.destroy();
      },
    };
  },
  { unplugs: true },
);

describe('mqtt driver flow control', () => {
  const env = brokerAndPublisher();

  test('no more than receiveMaximum messages wait for their commit, whatever the broker sends; all arrive once commits resume', async () => {
    // MQTT 3.1.1 has no Receive Maximum and the test broker no in-flight cap: only the driver limits.
    const driver = new MqttDriver(options(env.broker.url, { receiveMaximum: 10, mqttVersion: '3.1.1' }));
    const sink = new StalledSink();
    try {
      await driver.start(sink);
      await until('up', () => sink.lastState === 'up');
      await new Promise((r) => setTimeout(r, 300)); // subscribed
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => env.pub.publishAsync(`plant/s${i % 4}/n`, String(i), { qos: 1 })),
      );
      await until('the first window', () => sink.submits >= 10);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(sink.submits, 10, 'intake stops at receiveMaximum uncommitted messages');
      const interval = setInterval(() => sink.commitAll(), 20);
      try {
        await until('every message', () => sink.readings.length >= 200);
      } finally {
        clearInterval(interval);
      }
      assert.deepEqual(
        sink.readings.map((r) => r.value).sort((a, b) => a - b),
        Array.from({ length: 200 }, (_, i) => i),
      );
    } finally {
      sink.commitAll();
      await driver.stop();
    }
  });
});

describe('mqtt driver at QoS 2', () => {
  const env = brokerAndPublisher();

  test('each message is held until PUBREL, then taken in once and forgotten; the poison payload is refused and completed', async () => {
    const driver = new MqttDriver(options(env.broker.url));
    const sink = new RecordingSink(20);
    try {
      await startReading(driver, sink, env.pub);
      await Promise.all(
        Array.from({ length: 300 }, (_, i) => env.pub.publishAsync(`plant/q2-${i % 3}/n`, String(i), { qos: 2 })),
      );
      await env.pub.publishAsync('plant/q2-0/n', `{"value":${'['.repeat(5000)}${']'.repeat(5000)}}`, { qos: 2 });
      await env.pub.publishAsync('plant/q2-0/n', '300', { qos: 2 });
      await until('the last reading', () => sink.readings.some((r) => r.sensor === 'q2-0' && r.value === 300));
      const values = sink.readings
        .filter((r) => r.sensor.startsWith('q2-'))
        .map((r) => r.value)
        .sort((a, b) => a - b);
      assert.deepEqual(
        values,
        Array.from({ length: 301 }, (_, i) => i),
        'every message once',
      );
      assert.deepEqual(sink.reasons(), { too_deep: 1 });
      assert.equal(sink.heldMessages.size, 0, 'nothing left held');
    } finally {
      await driver.stop();
    }
  });

  test('messages held when the broker lost the session are taken in at once (no PUBREL will come for them)', async () => {
    const sink = new RecordingSink();
    // What an earlier run held, under a client id the broker has no session for.
    sink.heldMessages.set(7, { id: 7, topic: 'plant/held-1/temp', payload: Buffer.from('{"value": 42.5}') });
    const driver = new MqttDriver(options(env.broker.url));
    try {
      await driver.start(sink);
      await until('the held message taken in', () => sink.readings.some((r) => r.sensor === 'held-1'));
      assert.deepEqual(
        sink.readings.filter((r) => r.sensor === 'held-1'),
        [{ sensor: 'held-1', metric: 'temp', value: 42.5 }],
      );
      await until('forgotten', () => sink.heldMessages.size === 0);
    } finally {
      await driver.stop();
    }
  });

  test('a retained message is taken in with the subscription, not again when the gateway restarts on its session', async () => {
    await env.pub.publishAsync('plant/retained-1/temp', '{"value": 42}', { qos: 2, retain: true });
    const opts = options(env.broker.url);
    const runs = [new RecordingSink(), new RecordingSink()];
    try {
      for (const sink of runs) {
        const driver = new MqttDriver(opts); // the same client id: the broker's session is resumed
        try {
          await startReading(driver, sink, env.pub);
        } finally {
          await driver.stop();
        }
      }
      assert.deepEqual(
        runs.map((sink) => sink.readings.filter((r) => r.sensor === 'retained-1').length),
        [1, 0],
        'taken in with the new subscription, not again',
      );
    } finally {
      await env.pub.publishAsync('plant/retained-1/temp', '', { qos: 1, retain: true }); // cleared
    }
  });

  test('a new message under the packet id of one held from the lost session is not forgotten with it', async () => {
    // The broker's new session numbers its messages from 1 again. While the old message 1 is still
    // being taken in (its commit stalls), the new message 1 arrives and is held; the old one's
    // commit must not make the driver forget the new one, or its PUBREL finds nothing to take in.
    const sink = new StalledSink();
    sink.heldMessages.set(1, { id: 1, topic: 'plant/old-1/temp', payload: Buffer.from('{"value": 1}') });
    const driver = new MqttDriver(options(env.broker.url));
    try {
      await driver.start(sink);
      await until('up', () => sink.lastState === 'up');
      await env.pub.publishAsync('plant/new-1/temp', '{"value": 2}', { qos: 2 });
      await until('the new message held under id 1', () => sink.heldMessages.get(1)?.topic === 'plant/new-1/temp');
      await until(
        'both taken in',
        () => sink.readings.some((r) => r.sensor === 'new-1') && sink.readings.some((r) => r.sensor === 'old-1'),
        () => sink.commitAll(),
      );
      await until(
        'nothing held',
        () => sink.heldMessages.size === 0,
        () => sink.commitAll(),
      );
    } finally {
      sink.commitAll();
      await driver.stop();
    }
  });
});
