/**
 * What the Modbus driver tests over RTU and TCP share: a register with the usual defaults, the
 * driver's options around one link (a serial path, or host and port), the latest reading of a
 * sensor's metric, and the stray-byte case both transports must pass.
 */
import assert from 'node:assert/strict';
import type { RegisterSlave } from '../../../firmware-sim/modbus-slave.js';
import { ModbusDriver, type ModbusRegister, type ModbusSourceOptions } from '../../modbus/modbus-driver.js';
import { RecordingSink, until } from './recording-sink.js';

/** The serial line both sides of an RTU test agree on (a TCP link ignores it). */
export const line = { baudRate: 19200, dataBits: 8, parity: 'none', stopBits: 1 } as const;

export const reg = (
  r: Partial<ModbusRegister> & Pick<ModbusRegister, 'sensor' | 'metric' | 'address'>,
): ModbusRegister => ({
  table: 'holding',
  type: 'uint16',
  wordOrder: 'big',
  scale: 1,
  offset: 0,
  ...r,
});

/** Options polling every 100 ms, timing out after 300 ms and reopening after 100 ms. */
export function modbusOptions(
  link: { id: string } & ({ path: string } | { host: string; port: number }),
  registers: ModbusRegister[],
  over: Partial<ModbusSourceOptions> = {},
): ModbusSourceOptions {
  return {
    ...link,
    ...line,
    unitId: 1,
    pollIntervalMs: 100,
    timeoutMs: 300,
    registers,
    reopenDelay: () => 100,
    ...over,
  };
}

export const last = (sink: RecordingSink, sensor: string, metric: string) =>
  sink.readings.filter((r) => r.sensor === sensor && r.metric === metric).at(-1);

/** The register the driver contract polls: a tank's level, a float32 at input register 7 of unit 3. */
export const tankLevel = {
  unitId: 3,
  register: reg({ sensor: 'tank-1', metric: 'level', unit: 'm', table: 'input', address: 7, type: 'float32' }),
  value: 21.5,
} as const;

/**
 * Replies followed by a stray byte: every reply after them is still read (no timeouts, no bad
 * frames), and polling goes on with the new value. `optionsFor` makes the driver's options on the
 * slave's link for the given registers.
 */
export async function assertStrayBytesIgnored(
  slave: RegisterSlave,
  optionsFor: (registers: ModbusRegister[]) => ModbusSourceOptions,
): Promise<void> {
  slave.set('holding', 40, 1);
  const driver = new ModbusDriver(optionsFor([reg({ sensor: 'padded', metric: 'x', address: 40 })]));
  const sink = new RecordingSink();
  await driver.start(sink);
  try {
    await until('a reading', () => last(sink, 'padded', 'x')?.value === 1);
    slave.faultNext('holding', 40, 'stray_byte');
    slave.faultNext('holding', 40, 'stray_byte');
    await until('both stray bytes sent', () => slave.pendingFaults === 0);
    const before = sink.readings.length;
    slave.set('holding', 40, 2);
    await until(
      'five readings of the new value',
      () => sink.readings.slice(before).filter((r) => r.value === 2).length >= 5,
    );
    assert.deepEqual(sink.reasons(), {}, 'every reply was read: no timeouts, no bad frames');
    assert.equal(sink.lastState, 'up');
  } finally {
    await driver.stop();
  }
}
