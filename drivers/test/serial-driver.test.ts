/**
 * The serial driver on real pseudo-terminals (socat) through serialport's real binding: the
 * device writes bytes into one end, the driver reads the other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SerialPort } from 'serialport';
import type { DriverState } from '../driver.js';
import { encodeJsonLine } from '../serial/jsonl-codec.js';
import { encodeLine, xorChecksum } from '../serial/line-codec.js';
import { closeSerialPort, openSerialPort } from '../serial/port.js';
import { SerialDriver, type SerialSourceOptions } from '../serial/serial-driver.js';
import { driverContract } from './driver-contract.js';
import { type PtyPair, ptyPair, repoint } from './support/pty-pair.js';
import { RecordingSink, until } from './support/recording-sink.js';

const line8n1 = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 } as const;

function serialOptions(path: string, over: Partial<SerialSourceOptions> = {}): SerialSourceOptions {
  return {
    id: 'press-line',
    path,
    ...line8n1,
    format: 'line',
    requireChecksum: false,
    reopenDelay: () => 100,
    ...over,
  };
}

/** The device's end of the line: a real serial port writing raw bytes. */
class Device {
  private port?: SerialPort;
  constructor(private readonly path: string) {}
  async open(): Promise<void> {
    this.port = await openSerialPort({ path: this.path, ...line8n1 });
  }
  async write(data: string | Buffer): Promise<void> {
    const port = this.port!;
    await new Promise<void>((resolve, reject) =>
      port.write(data, (err) => (err ? reject(err) : port.drain(() => resolve()))),
    );
  }
  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await closeSerialPort(port);
  }
}

describe('serial driver on a pseudo-terminal', () => {
  let pair: PtyPair;
  let device: Device;
  before(async () => {
    pair = await ptyPair();
    device = new Device(pair.b);
    await device.open();
  });
  after(async () => {
    await device.close();
    await pair.destroy();
  });

  test('good frames arrive as readings: with and without timestamp and checksum, LF and CRLF, split writes', async () => {
    const driver = new SerialDriver(serialOptions(pair.a));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('port open', () => sink.lastState === 'up');
      await device.write('pump-3 temp=71.3,vib_rms=0.42 1732400000123*58\n');
      // A lower-case checksum is as good as an upper-case one.
      await device.write(`fan-1 rpm=1200\r\nfan-1 rpm=1210*${xorChecksum('fan-1 rpm=1210').toLowerCase()}\r\n`);
      await device.write('tank.2 level=-1.5e3 1732400000999');
      await device.write('\n');
      await until('5 readings', () => sink.readings.length >= 5);
      assert.deepEqual(sink.readings, [
        { sensor: 'pump-3', metric: 'temp', value: 71.3, ts: 1732400000123 },
        { sensor: 'pump-3', metric: 'vib_rms', value: 0.42, ts: 1732400000123 },
        { sensor: 'fan-1', metric: 'rpm', value: 1200 },
        { sensor: 'fan-1', metric: 'rpm', value: 1210 },
        { sensor: 'tank.2', metric: 'level', value: -1500, ts: 1732400000999 },
      ]);
      assert.deepEqual(sink.rejections, []);
    } finally {
      await driver.stop();
    }
  });

  test('garbage, bad checksums, non-numbers and endless lines are rejected by reason, and the next good frame arrives', async () => {
    const driver = new SerialDriver(serialOptions(pair.a));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('port open', () => sink.lastState === 'up');
      await device.write(Buffer.from([0x00, 0xff, 0x13, 0x80, 0x0a]));
      await device.write('pump-3 temp=71.3,vib_rms=0.42 1732400000123*59\n');
      await device.write('pump-3 temp=hot\n');
      await device.write('noise without structure\n');
      // An endless line: 20 kB without a newline, written in pieces as a babbling device would.
      for (let i = 0; i < 20; i++) await device.write(Buffer.alloc(1000, 0x41));
      await device.write('\nok-1 x=1\n');
      await until('the good frame after the noise', () => sink.readings.some((r) => r.sensor === 'ok-1'));
      assert.deepEqual(sink.reasons(), { garbage: 2, bad_checksum: 1, not_a_number: 1, too_large: 1 });
      assert.deepEqual(sink.readings, [{ sensor: 'ok-1', metric: 'x', value: 1 }]);
      const tooLarge = sink.rejections.find((r) => r.reason === 'too_large')!;
      assert.ok((tooLarge.payload as Uint8Array).length <= 1024, 'only a sample of the endless line is kept');
    } finally {
      await driver.stop();
    }
  });

  test('requireChecksum rejects frames without one', async () => {
    const driver = new SerialDriver(serialOptions(pair.a, { requireChecksum: true }));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('port open', () => sink.lastState === 'up');
      const body = 'valve-7 open=1';
      await device.write(`${body}\n${body}*${xorChecksum(body)}\n`);
      await until('two frames handled', () => sink.readings.length + sink.rejections.length >= 2);
      assert.deepEqual(sink.reasons(), { missing_checksum: 1 });
      assert.deepEqual(sink.readings, [{ sensor: 'valve-7', metric: 'open', value: 1 }]);
    } finally {
      await driver.stop();
    }
  });

  test('format jsonl: objects and bare numbers named by the source options', async () => {
    const driver = new SerialDriver(serialOptions(pair.a, { format: 'jsonl', sensor: 'meter-1', metric: 'kwh' }));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('port open', () => sink.lastState === 'up');
      await device.write(
        `${encodeJsonLine({ sensor: 'pump-3', metric: 'temp', value: 70.5, unit: 'C', ts: 1732400000123 })}\r\n42.5\n{"value": 1\n`,
      );
      await until('three lines handled', () => sink.readings.length + sink.rejections.length >= 3);
      assert.deepEqual(sink.readings, [
        { sensor: 'pump-3', metric: 'temp', value: 70.5, unit: 'C', ts: 1732400000123 },
        { sensor: 'meter-1', metric: 'kwh', value: 42.5 },
      ]);
      assert.deepEqual(sink.reasons(), { invalid_json: 1 });
    } finally {
      await driver.stop();
    }
  });

  test('the pty closed and re-created (an unplugged and replugged adapter) recovers without a restart', async () => {
    const driver = new SerialDriver(serialOptions(pair.a));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('port open', () => sink.lastState === 'up');
      await device.write('before x=1\n');
      await until('reading before unplug', () => sink.readings.length === 1);
      await device.close();
      await pair.stop();
      await until('down', () => sink.lastState === 'down');
      await pair.start();
      await device.open();
      await until('up again', () => sink.lastState === 'up');
      await device.write('after x=2\n');
      await until('reading after replug', () => sink.readings.some((r) => r.sensor === 'after'));
      assert.ok(
        sink.states.some((s) => s.state === 'down' && s.detail?.includes(pair.a)),
        'the outage names the port',
      );
    } finally {
      await driver.stop();
    }
  });

  test('unplugs right after opening are all noticed, though a hung-up tty may read as end-of-file rather than fail', async () => {
    // Whether the read after a hang-up fails or returns 0 bytes is a race in the kernel; serialport
    // only notices the failure. Unplugging the moment the port is up makes the 0-byte case likely.
    for (let i = 0; i < 8; i++) {
      const p = await ptyPair();
      const driver = new SerialDriver(serialOptions(p.a));
      let unplugged: Promise<void> | undefined;
      const sink = new (class extends RecordingSink {
        override state(state: DriverState, detail?: string): void {
          super.state(state, detail);
          if (state === 'up') unplugged ??= p.stop();
        }
      })();
      try {
        await driver.start(sink);
        await until('port open', () => unplugged !== undefined);
        await unplugged;
        await until(`down after unplug ${i + 1}`, () => sink.lastState === 'down', undefined, 10_000);
      } finally {
        await driver.stop();
        await p.destroy();
      }
    }
  });

  test('a device node replaced by another device (an adapter re-enumerated) is reopened', async () => {
    const other = await ptyPair();
    const otherDevice = new Device(other.b);
    const driver = new SerialDriver(serialOptions(pair.a));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('port open', () => sink.lastState === 'up');
      repoint(pair.a, other.a);
      await until('down', () => sink.lastState === 'down');
      assert.match(sink.states.at(-1)!.detail!, /closed: device removed/);
      await until('up on the new device', () => sink.lastState === 'up');
      await otherDevice.open();
      await otherDevice.write('moved x=3\n');
      await until('reading from the new device', () => sink.readings.some((r) => r.sensor === 'moved'));
    } finally {
      await driver.stop();
      await otherDevice.close();
      await other.destroy();
      // Restore the pair for the tests after this one.
      await pair.stop();
      await pair.start();
      await device.close();
      await device.open();
    }
  });

  test('a missing port is reported (with the port listing, or why there is none) and not fatal, even without udevadm', async () => {
    const path = process.env.PATH;
    // Port listing spawns udevadm; a minimal image may not have it.
    process.env.PATH = '/nonexistent';
    const driver = new SerialDriver(serialOptions(`${pair.a}-absent`));
    const sink = new RecordingSink();
    try {
      await driver.start(sink);
      await until('the outage described', () =>
        sink.states.some((s) => s.detail?.includes('port listing unavailable')),
      );
      assert.equal(sink.lastState, 'down');
      assert.match(
        sink.states.at(-1)!.detail!,
        /cannot open .*-absent: No such file or directory \(port listing unavailable: .*udevadm/,
      );
    } finally {
      process.env.PATH = path;
      await driver.stop();
    }
  });
});

driverContract(
  'serial',
  async () => {
    const pair = await ptyPair();
    const device = new Device(pair.b);
    await device.open();
    let n = 0;
    return {
      create: () => new SerialDriver(serialOptions(pair.a)),
      device: {
        async produce() {
          await device.write(
            `${encodeLine({ sensor: 'pump-3', values: [['temp', 70 + (n++ % 10)]] }, { checksum: true })}\n`,
          );
        },
        async unplug() {
          await device.close();
          await pair.stop();
        },
        async replug() {
          await pair.start();
          await device.open();
        },
      },
      async close() {
        await device.close();
        await pair.destroy();
      },
    };
  },
  { unplugs: true },
);
