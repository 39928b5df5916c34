/**
 * Test helper: a pair of real pseudo-terminals joined by socat (see firmware-sim/pty.ts, which
 * the simulated devices use too). Stopping it removes both ends, as unplugging a USB serial
 * adapter removes its device node; starting it again re-creates them under the same names.
 */
export { ptyPair, SOCAT_BIN, type PtyPair } from '../../../firmware-sim/pty.js';
