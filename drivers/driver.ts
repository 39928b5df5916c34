/**
 * The hardware/network edge. A driver turns what a device says into readings and hands them to a
 * sink; it knows nothing of SQLite, Kafka or HTTP. The gateway owns the sink.
 */

/** What a device reported, before the gateway stamps it with seq, source and gateway identity. */
export interface RawReading {
  sensor: string;
  metric: string;
  value: number;
  unit?: string;
  /** Event time in epoch ms; absent means "now" at the gateway. */
  ts?: number;
}

/** Why input was refused. Stable strings: they are metric labels. */
export type RejectReason =
  | 'invalid_json'
  | 'not_a_number'
  | 'missing_field'
  | 'bad_name'
  | 'bad_timestamp'
  | 'bad_unit'
  | 'too_large'
  /** JSON nested deeper than any reading needs (bounds the work a payload can cause). */
  | 'too_deep'
  | 'bad_checksum'
  | 'missing_checksum'
  | 'garbage'
  /** Excess input over a source's configured rate limit. */
  | 'rate_limited'
  /** Modbus: a reply whose CRC does not match. */
  | 'bad_crc'
  /** Modbus: no (complete) reply within the timeout. */
  | 'timeout'
  /** Modbus: the slave answered with an exception code (e.g. illegal data address). */
  | 'modbus_exception'
  /** Modbus: a reply of the wrong length, unit or function code. */
  | 'bad_frame'
  /**
   * Decoding this input threw: a bug of ours, never the device's fault. The input is counted and
   * quarantined like any rejection (and acknowledged, over MQTT) so that it cannot stop intake.
   */
  | 'internal_error'
  /** Sparkplug B: a data message names a metric by an alias no birth certificate has defined. */
  | 'unknown_alias'
  /** Sparkplug B: a birth gave one alias to two metrics; data naming it by that alias cannot be resolved. */
  | 'ambiguous_alias'
  /** Sparkplug B: an edge node's sequence number skipped (messages were lost on the way). */
  | 'sequence_gap';

export interface Rejection {
  reason: RejectReason;
  detail: string;
  /** The offending input (the gateway keeps a bounded prefix of it in quarantine). */
  payload?: Uint8Array | string;
  /**
   * How many refused readings this stands for (default 1). A message that many readings of one
   * reason fail in (a Sparkplug payload of thousands of metrics) is counted in full but kept in
   * quarantine once, so it cannot crowd out everyone else's evidence.
   */
  count?: number;
}

export type DriverState = 'starting' | 'up' | 'down' | 'stopped';

/**
 * A message a driver has acknowledged receiving but not yet taken in (an MQTT QoS 2 message
 * between PUBREC and PUBREL). It must be kept durably: the broker will not send it again.
 */
export interface HeldMessage {
  /** The protocol's packet identifier, unique among one source's held messages. */
  id: number;
  topic: string;
  payload: Uint8Array;
}

/** Changes to a source's held messages, committed in the same transaction as the submission. */
export interface SessionChange {
  /** Keep these (replacing any held under the same id). */
  hold?: HeldMessage[];
  /** These were taken in by this very submission: forget them. */
  release?: number[];
}

export interface DriverSink {
  /**
   * Hand over readings and rejections. The promise settles once both are durable, so a driver
   * whose protocol can withhold an acknowledgement (MQTT PUBACK, Modbus request) waits for it.
   * `session` changes become durable in the same transaction, so a crash keeps both or neither.
   */
  submit(readings: RawReading[], rejections?: Rejection[], session?: SessionChange): Promise<void>;
  /** The messages this source held when the gateway last stopped (a crash included). */
  held(): HeldMessage[];
  /** Report connection health; the status page shows it. */
  state(state: DriverState, detail?: string): void;
}

export interface Driver {
  readonly id: string;
  readonly driver: string;
  /**
   * True when the device or broker keeps input the driver has not acknowledged and sends it again
   * (MQTT QoS 1): input the gateway could not store is then not lost, only delayed.
   */
  readonly redelivers?: boolean;
  /** Begin producing readings into the sink. Resolves once started; connection failures are
   *  reported through sink.state and retried by the driver, never thrown from here. */
  start(sink: DriverSink): Promise<void>;
  /** Stop producing; resolves when no further submit() will be made. */
  stop(): Promise<void>;
}
