/** Builds drivers from source config: the one place the gateway knows which drivers exist. */
import type { Driver } from '../../drivers/driver.js';
import type { OpenGpioChip } from '../../drivers/gpio/chip.js';
import { GpioDriver } from '../../drivers/gpio/gpio-driver.js';
import { openOnoffChip } from '../../drivers/gpio/onoff-chip.js';
import { ModbusDriver } from '../../drivers/modbus/modbus-driver.js';
import { MqttDriver } from '../../drivers/mqtt/mqtt-driver.js';
import { SerialDriver } from '../../drivers/serial/serial-driver.js';
import type { SourceConfig } from '../config/config.js';
import { backoffDelay } from '../lib/backoff.js';

/** What the gateway may hand to drivers beyond their config. */
export interface DriverHooks {
  /**
   * Opens the chip of GPIO sources instead of the kernel's (onoff): the simulated chip, which lives
   * in firmware-sim and which the daemon does not import, is handed in by `sensorgate demo` and tests.
   */
  openGpioChip?: OpenGpioChip;
}

/** Reopening a vanished serial port: soon at first, at most every 10 s, never in step across a fleet. */
const reopenDelay = (attempt: number) => backoffDelay(attempt, { initialMs: 250, maxMs: 10_000 });

export function createDriver(src: SourceConfig, gatewayId: string, hooks: DriverHooks = {}): Driver {
  switch (src.driver) {
    case 'mqtt':
      return new MqttDriver({
        ...src,
        topics: [...src.topics],
        qos: src.qos as 1 | 2,
        clientId: src.clientId ?? `sensorgate-${gatewayId}-${src.id}`,
      });
    case 'serial':
      return new SerialDriver({ ...src, reopenDelay });
    case 'modbus':
      return new ModbusDriver({ ...src, reopenDelay });
    case 'gpio': {
      // `chip` has one value today, onoff; the key is there for a character-device backend to come.
      const { chip: _onoff, chipLabel, ...options } = src;
      const open = hooks.openGpioChip ?? openOnoffChip;
      return new GpioDriver({ ...options, openChip: () => open({ label: chipLabel }) });
    }
  }
}
