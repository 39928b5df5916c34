/**
 * The plant `sensorgate demo` simulates: two production lines, each read by its own gateway, with
 * every kind of device and a mix of faults. A simulated day passes in a minute (timeScale 1440),
 * so press-1's bearing, half worn at start, fails about five minutes in: the example consumer
 * (`sensorgate consume`) sees its vibration trend rise and warns, then alarms, before it does.
 * After a failure the bearing is replaced and wears out again.
 */
import { parseSimConfig, type SimConfig } from './config.js';

export function demoPlant(o: { seed?: number | string; mqttUrl: string }): SimConfig {
  return parseSimConfig({
    seed: o.seed ?? 1,
    timeScale: 1440,
    mqttUrl: o.mqttUrl,
    devices: [
      // Line 1: a press on a serial line with checksums, a motor meter on Modbus RTU, a compressor
      // meter on Modbus TCP, a coolant flow meter and a guard door on GPIO.
      {
        id: 'press-1',
        gateway: 'line1',
        transport: 'serial',
        format: 'line',
        checksum: true,
        intervalMs: 500,
        model: { type: 'machine', timeToFailure: '10d', lifeAtStart: 0.5 },
        faults: [
          { type: 'garbage', probability: 0.01 },
          { type: 'bad_checksum', probability: 0.01 },
          { type: 'spike', probability: 0.005 },
          { type: 'unplug', at: '60s', every: '150s', duration: '3s' },
        ],
      },
      {
        id: 'meter-1',
        gateway: 'line1',
        transport: 'modbus',
        unitId: 1,
        intervalMs: 1000,
        model: { type: 'machine', timeToFailure: '40d', lifeAtStart: 0.2, ratedCurrent: 32, noLoadCurrent: 9 },
        faults: [
          { type: 'bad_crc', probability: 0.02 },
          { type: 'timeout', probability: 0.01 },
        ],
      },
      // An air compressor's energy meter on Ethernet (Modbus TCP), switched off for a moment now and then.
      {
        id: 'compressor-meter',
        gateway: 'line1',
        transport: 'modbus-tcp',
        unitId: 1,
        intervalMs: 1000,
        model: { type: 'machine', timeToFailure: '60d', lifeAtStart: 0.1, ratedCurrent: 45, noLoadCurrent: 12 },
        faults: [
          { type: 'busy', probability: 0.01 },
          { type: 'disconnect', at: '45s', every: '200s', duration: '4s' },
        ],
      },
      {
        id: 'coolant-flow',
        gateway: 'line1',
        transport: 'gpio',
        pin: 22,
        metric: 'flow',
        pulsesPerUnit: 450,
        intervalMs: 1000,
        model: { type: 'pump', flow: 4, period: '6h', duty: 0.6 },
      },
      {
        id: 'guard-door',
        gateway: 'line1',
        transport: 'gpio',
        pin: 17,
        intervalMs: 500,
        model: { type: 'switch', meanOpen: '1h', meanClosed: '4h' },
      },
      // Line 2: two pumps publishing over MQTT, a fan on a JSONL serial line whose clock is behind,
      // a dosing pump on Modbus with scaled integer registers, a chiller pump behind a Sparkplug B
      // edge node, and a flow meter on GPIO.
      {
        id: 'pump-1',
        gateway: 'line2',
        transport: 'mqtt',
        topicPrefix: 'plant/line2',
        intervalMs: 1000,
        model: { type: 'machine', timeToFailure: '20d', lifeAtStart: 0.3 },
        faults: [
          { type: 'malformed', probability: 0.01 },
          { type: 'disconnect', at: '90s', every: '180s', duration: '5s' },
        ],
      },
      {
        id: 'pump-2',
        gateway: 'line2',
        transport: 'mqtt',
        topicPrefix: 'plant/line2',
        intervalMs: 1000,
        model: { type: 'machine', timeToFailure: '25d', lifeAtStart: 0.1 },
        faults: [
          { type: 'stuck', at: '40s', every: '300s', duration: '10s' },
          { type: 'burst', at: '75s', every: '300s', duration: '2s', count: 20 },
        ],
      },
      {
        id: 'fan-3',
        gateway: 'line2',
        transport: 'serial',
        format: 'jsonl',
        intervalMs: 1000,
        model: { type: 'machine', timeToFailure: '15d', lifeAtStart: 0.4, ratedCurrent: 6, noLoadCurrent: 2 },
        faults: [
          { type: 'clock_skew', offset: '-90s' },
          { type: 'garbage', probability: 0.005 },
          { type: 'malformed', probability: 0.005 },
        ],
      },
      {
        id: 'dosing-pump',
        gateway: 'line2',
        transport: 'modbus',
        unitId: 2,
        intervalMs: 1000,
        model: { type: 'pump', flow: 1.2, period: '3h', duty: 0.3 },
        registers: [
          { metric: 'flow', table: 'holding', address: 100, type: 'int16', scale: 0.01 },
          { metric: 'running', table: 'holding', address: 101, type: 'uint16' },
        ],
        faults: [{ type: 'busy', probability: 0.01 }],
      },
      // A chiller's pump behind a SCADA edge node speaking Sparkplug B: births, aliased data, and a
      // power cut now and then (its death, then a rebirth with new aliases).
      {
        id: 'chiller-pump',
        gateway: 'line2',
        transport: 'sparkplug',
        group: 'plant',
        node: 'scada-edge',
        intervalMs: 1000,
        model: { type: 'pump', flow: 12, period: '2h', duty: 0.8 },
        faults: [{ type: 'disconnect', at: '70s', every: '240s', duration: '5s' }],
      },
      {
        id: 'flow-2',
        gateway: 'line2',
        transport: 'gpio',
        pin: 5,
        metric: 'flow',
        pulsesPerUnit: 450,
        intervalMs: 1000,
        model: { type: 'pump', flow: 3, period: '8h', duty: 0.75 },
      },
    ],
  });
}
