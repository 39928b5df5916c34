/**
 * An MQTT sensor publishing JSON payloads (docs/reference/wire-formats.md) to `<topicPrefix>/<sensor>/<metric>` on a
 * real broker. When it loses its connection (the `disconnect` fault) it keeps sampling into a
 * bounded backlog, as firmware with store-and-forward does, and publishes the backlog, with the
 * readings' original times, once it is connected again.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceConfig } from './config.js';
import { type DeviceEnv, SimDevice } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import type { Random } from './random.js';
import { encodeMqttTick, type MqttMessage } from './wire.js';

type MqttConfig = Extract<DeviceConfig, { transport: 'mqtt' }>;

/** Messages a device keeps while offline; older ones are dropped (and counted lost) beyond it. */
const BACKLOG_LIMIT = 10_000;

export class MqttSimDevice extends SimDevice {
  private client?: MqttClient;
  private offline = false;
  private readonly backlog: MqttMessage[] = [];
  reconnects = 0;

  constructor(
    readonly cfg: MqttConfig,
    firmware: Firmware,
    env: DeviceEnv,
    private readonly random: Random,
    readonly url: string,
  ) {
    super(cfg, firmware, env);
  }

  get topicFilter(): string {
    return `${this.cfg.topicPrefix}/${this.sensor}/+`;
  }

  async open(): Promise<void> {
    this.client = await this.connect();
  }

  protected async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync();
  }

  protected async emit(tick: Tick): Promise<void> {
    const { started, active } = tick.faults;
    if (started.includes('disconnect') && !this.offline) {
      this.count('disconnect');
      this.offline = true;
      const client = this.client;
      this.client = undefined;
      await client?.endAsync(true);
    }
    if (this.offline && !active.has('disconnect')) {
      // Back: connect again (retried on later ticks while the broker does not answer).
      try {
        this.client = await this.connect();
        this.offline = false;
        this.reconnects++;
      } catch (err) {
        this.env.onError(this.id, err as Error);
      }
    }
    if (started.includes('dropout')) this.count('dropout');
    if (active.has('dropout')) {
      this.stats.lost += tick.samples.length;
      return;
    }
    const c = this.cfg;
    const out = encodeMqttTick(
      tick,
      { sensor: this.sensor, topicPrefix: c.topicPrefix, timestamps: c.timestamps, metrics: this.firmware.metrics },
      this.random,
    );
    for (const [fault, n] of Object.entries(out.corrupted)) this.count(fault as keyof typeof out.corrupted, n);
    this.countSampleFaults(tick);
    this.stats.sent += out.units.length;
    this.stats.readings += out.readings;
    this.backlog.push(...out.units);
    if (this.backlog.length > BACKLOG_LIMIT)
      this.stats.lost += this.backlog.splice(0, this.backlog.length - BACKLOG_LIMIT).length;
    if (!this.offline && this.client) this.flush(this.client);
  }

  describe(): string {
    return `mqtt  ${this.url}  topics ${this.topicFilter}  (QoS ${this.cfg.qos})`;
  }

  source(): Record<string, unknown> {
    const prefix = this.cfg.topicPrefix;
    return {
      id: this.cfg.id,
      driver: 'mqtt',
      url: this.url,
      topics: [this.topicFilter],
      topicPattern: `${prefix}/{sensor}/{metric}`,
    };
  }

  private async connect(): Promise<MqttClient> {
    const client = await mqtt.connectAsync(
      this.url,
      { clientId: `sensorgate-sim-${this.cfg.id}`, reconnectPeriod: 1000, connectTimeout: 10_000 },
      false,
    );
    // mqtt.js reconnects by itself after a broker restart; errors on the way are only reported.
    client.on('error', (err) => this.env.onError(this.id, err));
    return client;
  }

  private flush(client: MqttClient): void {
    // mqtt.js queues what the socket cannot take yet; QoS 1 is resent until acknowledged.
    for (const m of this.backlog.splice(0)) client.publish(m.topic, m.payload, { qos: this.cfg.qos });
  }
}
