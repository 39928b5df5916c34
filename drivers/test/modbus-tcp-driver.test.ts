/**
 * The Modbus driver over TCP (modbus-serial as master) against the simulated Modbus TCP slave from
 * firmware-sim on a real socket: the same registers and rejection reasons as RTU, and the
 * connection made again when the slave goes away and comes back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../deploy/net.js';
import { ModbusTcpSlave } from '../../firmware-sim/modbus-slave.js';
import { ModbusDriver, type ModbusRegister, type ModbusSourceOptions } from '../modbus/modbus-driver.js';
import { driverContract } from './driver-contract.js';
import { assertStrayBytesIgnored, last, modbusOptions, reg, tankLevel } from './support/modbus-fixture.js';
import { RecordingSink, until } from './support/recording-sink.js';

const options = (port: number, registers: ModbusRegister[], over: Partial<ModbusSourceOptions> = {}) =>
  modbusOptions({ id: 'meter-tcp', host: '127.0.0.1', port }, registers, over);

describe('modbus driver over TCP', () => {
  let slave: ModbusTcpSlave;
  before(async () => {
    slave = new ModbusTcpSlave({ unitId: 1 });
    await slave.start();
  });
  after(async () => {
    await slave.stop();
  });

  test('registers of every type arrive scaled; exceptions, silence and malformed replies are counted by reason', async () => {
    slave.set('holding', 0, 2315);
    slave.set('input', 3, -123456, 'int32', 'little');
    slave.set('input', 10, 1.5, 'float32', 'big');
    slave.set('holding', 20, 7);
    slave.fault('holding', 20, 'bad_crc');
    const driver = new ModbusDriver(
      options(slave.port, [
        reg({ sensor: 'meter-1', metric: 'voltage', unit: 'V', address: 0, scale: 0.1 }),
        reg({
          sensor: 'meter-1',
          metric: 'energy',
          table: 'input',
          address: 3,
          type: 'int32',
          wordOrder: 'little',
          scale: 0.01,
        }),
        reg({ sensor: 'meter-1', metric: 'flow', table: 'input', address: 10, type: 'float32', offset: 1 }),
        reg({ sensor: 'noisy', metric: 'x', address: 20 }),
        reg({ sensor: 'absent', metric: 'y', address: 0, unitId: 9 }),
        reg({ sensor: 'wrong', metric: 'z', address: 999 }),
      ]),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('three cycles', () => sink.readings.filter((r) => r.metric === 'flow').length >= 3);
      assert.ok(Math.abs(last(sink, 'meter-1', 'voltage')!.value - 231.5) < 1e-9);
      assert.equal(last(sink, 'meter-1', 'voltage')!.unit, 'V');
      assert.ok(Math.abs(last(sink, 'meter-1', 'energy')!.value - -1234.56) < 1e-9);
      assert.equal(last(sink, 'meter-1', 'flow')!.value, 2.5);
      const reasons = sink.reasons();
      assert.deepEqual(Object.keys(reasons).sort(), ['bad_frame', 'modbus_exception', 'timeout']);
      assert.match(sink.rejections.find((r) => r.reason === 'timeout')!.detail, /unit 9 holding 0 \(absent\/y\)/);
      assert.ok(
        sink.readings.every((r) => r.sensor === 'meter-1'),
        'nothing from a failed read becomes a reading',
      );
      assert.equal(sink.lastState, 'up');
      slave.fault('holding', 20, undefined);
      await until('the repaired register', () => last(sink, 'noisy', 'x')?.value === 7);
    } finally {
      await driver.stop();
    }
  });

  test('a stray byte after a reply does not put the master out of step: the next replies are read as before', () =>
    assertStrayBytesIgnored(slave, (registers) => options(slave.port, registers)));

  test('the slave stopped: down, saying where; started again: up with readings, on its own', async () => {
    slave.set('holding', 0, 100);
    const driver = new ModbusDriver(options(slave.port, [reg({ sensor: 'meter-1', metric: 'x', address: 0 })]));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('a reading', () => last(sink, 'meter-1', 'x')?.value === 100);
      await slave.stop();
      await until('down', () => sink.lastState === 'down');
      assert.match(sink.states.at(-1)!.detail!, new RegExp(`127\\.0\\.0\\.1:${slave.port}: connection closed`));
      // Reconnection is refused while the slave is off, and said so.
      await until('refused', () =>
        /cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/.test(sink.states.at(-1)?.detail ?? ''),
      );
      slave.set('holding', 0, 200);
      await slave.start();
      await until(
        'up again with the new value',
        () => sink.lastState === 'up' && last(sink, 'meter-1', 'x')?.value === 200,
      );
    } finally {
      await driver.stop();
    }
  });

  test('nothing listening at start: down with the reason, retried until the slave appears', async () => {
    const other = new ModbusTcpSlave({ unitId: 1, port: await freePort() });
    other.set('input', 0, 5);
    const driver = new ModbusDriver(
      options(other.port, [reg({ sensor: 'late', metric: 'x', table: 'input', address: 0 })]),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('down', () => sink.lastState === 'down');
      assert.match(sink.states.at(-1)!.detail!, /ECONNREFUSED/);
      await other.start();
      await until('readings', () => last(sink, 'late', 'x')?.value === 5);
    } finally {
      await driver.stop();
      await other.stop();
    }
  });
});

driverContract(
  'modbus tcp',
  async () => {
    const slave = new ModbusTcpSlave({ unitId: tankLevel.unitId });
    slave.set('input', tankLevel.register.address, tankLevel.value, 'float32');
    await slave.start();
    return {
      create: () => new ModbusDriver(options(slave.port, [tankLevel.register], { unitId: tankLevel.unitId })),
      device: {
        produce: () => undefined,
        unplug: () => slave.stop(),
        replug: () => slave.start(),
      },
      close: () => slave.stop(),
    };
  },
  { unplugs: true },
);
