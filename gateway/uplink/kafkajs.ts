/**
 * kafkajs as every part of sensorgate uses it: import it from here, never from 'kafkajs'. kafkajs
 * 2.2.4 is its last release; the fixes below replace parts of it that cost a gateway CPU, and two
 * of them have to be in place before kafkajs itself loads (each throws if it comes too late).
 */
import './kafkajs-idle-fix.js';
import './kafkajs-partition-grouping.js';
import './kafkajs-record-encoder.js';

export * from 'kafkajs';
export { default } from 'kafkajs';
