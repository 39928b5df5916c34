/**
 * A simulated device behind a Sparkplug B edge node (SparkplugEdgeNode) on a real broker: the
 * node is born with one device carrying the model's metrics, and every sample becomes one DDATA
 * message with aliases. The `disconnect` fault drops the connection as a power cut does (the
 * broker publishes the node's death); samples taken meanwhile are lost, as on an edge node
 * without store-and-forward, and once back the node is born again with its aliases reassigned.
 */
import { sensorName } from '../drivers/mqtt/sparkplug-codec.js';
import type { DeviceConfig } from './config.js';
import { type DeviceEnv, SimDevice } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import { SparkplugEdgeNode } from './sparkplug-node.js';

type SparkplugConfig = Extract<DeviceConfig, { transport: 'sparkplug' }>;

export class SparkplugSimDevice extends SimDevice {
  readonly node: SparkplugEdgeNode;
  private offline = false;

  constructor(
    readonly cfg: SparkplugConfig,
    firmware: Firmware,
    env: DeviceEnv,
    readonly url: string,
  ) {
    super(cfg, firmware, env);
    this.node = new SparkplugEdgeNode({ url, group: cfg.group, node: cfg.node });
    this.node.device(
      this.sensor,
      firmware.metrics.map((m) => ({ name: m.name, type: 'Double', value: 0, ...(m.unit ? { unit: m.unit } : {}) })),
    );
  }

  /** The sensor of the readings the gateway makes: edge node and device. */
  get readingSensor(): string {
    return sensorName(this.cfg.node, this.sensor);
  }

  open(): Promise<void> {
    return this.node.connect();
  }

  protected close(): Promise<void> {
    return this.node.close();
  }

  protected async emit(tick: Tick): Promise<void> {
    const { started, active } = tick.faults;
    if (started.includes('disconnect') && !this.offline) {
      this.count('disconnect');
      this.offline = true;
      await this.node.die();
    }
    if (this.offline && !active.has('disconnect')) {
      try {
        await this.node.connect();
        this.offline = false;
      } catch (err) {
        this.env.onError(this.id, err as Error); // tried again on the next tick
      }
    }
    if (started.includes('dropout')) this.count('dropout');
    if (this.offline || active.has('dropout')) {
      this.stats.lost += tick.samples.length;
      return;
    }
    this.countSampleFaults(tick);
    for (const s of tick.samples) {
      await this.node.data(this.sensor, s.values, s.ts);
      this.stats.sent++;
      this.stats.readings += Object.keys(s.values).length;
    }
  }

  describe(): string {
    return `sparkplug b  ${this.url}  spBv1.0/${this.cfg.group}/+/${this.cfg.node}/#  (device ${this.sensor}: ${this.firmware.metrics.map((m) => m.name).join(', ')})`;
  }

  source(): Record<string, unknown> {
    const { group, node } = this.cfg;
    return {
      id: this.cfg.id,
      driver: 'mqtt',
      url: this.url,
      topics: [`spBv1.0/${group}/+/${node}`, `spBv1.0/${group}/+/${node}/+`],
      payload: 'sparkplug-b',
    };
  }
}
