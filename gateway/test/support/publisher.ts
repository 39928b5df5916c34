/** An MQTT publisher for tests (QoS 1 unless told): sensor `s<i>` publishes its counter 0, 1, 2 … in order. */
import mqtt, { type MqttClient } from 'mqtt';

export interface Publisher {
  /** Next value each sensor will publish (= how many it published). */
  readonly next: number[];
  /** Publish `perSensor` more values for every sensor, `ratePerS` readings/s in total (0 = as fast as acked). */
  publish(perSensor: number, ratePerS?: number): Promise<void>;
  raw(topic: string, payload: string | Buffer): Promise<void>;
  close(): Promise<void>;
}

export async function publisher(url: string, sensors: number, prefix = 'plant', qos: 1 | 2 = 1): Promise<Publisher> {
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId: `test-pub-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 500,
  });
  const next = new Array<number>(sensors).fill(0);
  return {
    next,
    async publish(perSensor, ratePerS = 0) {
      const started = Date.now();
      let sent = 0;
      const window: Promise<unknown>[] = [];
      for (let k = 0; k < perSensor; k++) {
        for (let s = 0; s < sensors; s++) {
          const value = next[s]!++;
          window.push(client.publishAsync(`${prefix}/s${s}/count`, JSON.stringify({ value, unit: 'n' }), { qos }));
          sent++;
          if (window.length >= 500) await Promise.all(window.splice(0));
          if (ratePerS > 0) {
            const due = started + (sent * 1000) / ratePerS;
            if (due > Date.now() + 5) {
              await Promise.all(window.splice(0));
              await new Promise((r) => setTimeout(r, due - Date.now()));
            }
          }
        }
      }
      await Promise.all(window);
    },
    async raw(topic, payload) {
      await client.publishAsync(topic, payload, { qos });
    },
    async close() {
      if (!client.disconnected) await client.endAsync();
    },
  };
}
