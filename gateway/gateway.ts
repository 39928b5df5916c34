/**
 * The daemon, wired in the one direction data flows:
 *   drivers -> ingest -> buffer -> forwarder -> uplink;  status observes every stage.
 * Constructing does nothing; start() opens and connects, stop() undoes it in reverse.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Driver, DriverSink } from '../drivers/driver.js';
import type { OpenGpioChip } from '../drivers/gpio/chip.js';
import type { BufferEvents } from './buffer/buffer.js';
import { lockDataDir } from './buffer/data-dir-lock.js';
import { SqliteBuffer } from './buffer/sqlite-buffer.js';
import type { Config } from './config/config.js';
import { Forwarder } from './forwarder/forwarder.js';
import { type Clock, systemClock } from './ingest/clock.js';
import { Ingest } from './ingest/ingest.js';
import { createDriver } from './ingest/sources.js';
import { type SystemdSession, sdNotify, systemdReady } from './lib/sd-notify.js';
import { VERSION } from './lib/version.js';
import { Heartbeat } from './status/heartbeat.js';
import { KafkaStatusPublisher } from './status/kafka-status-publisher.js';
import { Status } from './status/status.js';
import { createUplink } from './uplink/create-uplink.js';
import type { Uplink } from './uplink/uplink.js';
import { close } from './web/http.js';
import { startStatusServer } from './web/status-server.js';

export interface GatewayDeps {
  clock?: Clock;
  uplink?: Uplink;
  drivers?: Driver[];
  /** Opens the chip of GPIO sources instead of the kernel's: the simulated chip of `sensorgate demo` and of tests. */
  openGpioChip?: OpenGpioChip;
}

export class Gateway {
  private buffer?: SqliteBuffer;
  private ingest?: Ingest;
  private forwarder?: Forwarder;
  private server?: Server;
  private heartbeat?: Heartbeat;
  private drivers: Driver[] = [];
  private systemd?: SystemdSession;
  private refreshTimer?: NodeJS.Timeout;
  /** Releases the data dir's lock (see data-dir-lock.ts). */
  private unlock?: () => void;
  status?: Status;

  constructor(
    private readonly cfg: Readonly<Config>,
    private readonly log: Logger,
    private readonly deps: GatewayDeps = {},
  ) {}

  async start(): Promise<void> {
    const { cfg, log } = this;
    const clock = this.deps.clock ?? systemClock();
    const status = new Status(cfg.gateway.id, VERSION, clock, () => buffer.stats(), {
      dataDir: cfg.gateway.dataDir,
      heartbeatIntervalMs: cfg.status.heartbeatIntervalMs,
      bufferMaxBytes: cfg.buffer.maxBytes,
    });
    this.status = status;
    this.unlock = lockDataDir(cfg.gateway.dataDir);
    const buffer = SqliteBuffer.open(
      cfg.gateway.dataDir,
      { ...cfg.buffer },
      bufferEvents(status, log.child({ component: 'buffer' }), () => this.heartbeat?.publishSoon()),
    );
    this.buffer = buffer;
    status.refresh();
    this.refreshTimer = setInterval(() => status.refresh(), REFRESH_MS);
    const uplink = this.deps.uplink ?? (await createUplink(cfg.kafka, cfg.gateway.id, log));
    const forwarder = new Forwarder(buffer, uplink, status, log.child({ component: 'forwarder' }), {
      batchMaxRecords: cfg.kafka.batchMaxRecords,
      batchMaxBytes: cfg.kafka.batchMaxBytes,
      backoff: { initialMs: 250, maxMs: 30_000 },
      stopTimeoutMs: 10_000,
      callTimeoutMs: 60_000,
      drain: cfg.kafka.drain,
      lingerMs: cfg.kafka.lingerMs,
    });
    this.forwarder = forwarder;
    this.ingest = new Ingest(
      buffer,
      status,
      clock,
      { gateway: cfg.gateway.id, commitIntervalMs: cfg.buffer.commitIntervalMs },
      () => forwarder.notify(),
    );
    this.server = await startStatusServer(status, cfg.status.listen, { authToken: cfg.status.authToken });
    forwarder.start();

    this.drivers =
      this.deps.drivers ??
      cfg.sources.map((s) => createDriver(s, cfg.gateway.id, { openGpioChip: this.deps.openGpioChip }));
    for (const d of this.drivers) {
      status.addSource(d.id, d.driver);
      await d.start(loggedStates(this.ingest.sinkFor(d.id, d.redelivers === true), log.child({ source: d.id })));
    }
    // After the sources are known, so that the first status the fleet sees lists them.
    this.heartbeat = new Heartbeat(
      status,
      new KafkaStatusPublisher(cfg.kafka, cfg.gateway.id, log),
      { intervalMs: cfg.status.heartbeatIntervalMs, held: () => !buffer.anchored },
      log.child({ component: 'heartbeat' }),
    );
    this.heartbeat.start();
    const b = buffer.stats();
    log.info(
      {
        gateway: cfg.gateway.id,
        version: VERSION,
        sources: this.drivers.length,
        buffered: b.depth,
        nextSeq: b.nextSeq,
        status: `http://${cfg.status.listen}`,
      },
      'gateway started',
    );
    this.systemd = systemdReady(log, `${this.drivers.length} sources, ${b.depth} readings buffered`);
  }

  /** Stop sources first (nothing new comes in), commit what they handed over, then the uplink. */
  async stop(): Promise<void> {
    this.systemd?.stopping();
    clearInterval(this.refreshTimer);
    for (const d of this.drivers) {
      await d.stop().catch((err: Error) => this.log.warn({ source: d.id, err: err.message }, 'source stop failed'));
    }
    this.ingest?.close();
    await this.forwarder?.stop();
    await this.heartbeat?.stop();
    if (this.server) await close(this.server);
    this.buffer?.close();
    this.unlock?.();
    this.log.info('gateway stopped');
  }
}

/** The buffer's troubles, shown in status and logged once each. */
function bufferEvents(status: Status, log: Logger, publishStatusSoon: () => void): BufferEvents {
  let lastPing = Date.now();
  return {
    // The status carries the seq reservation: Kafka should hear of a new block at once.
    seqReserved: publishStatusSoon,
    // A salvage of a large file can outlast systemd's start timeout and watchdog: keep both
    // at bay (systemd-notify runs as a child process, so it works while the loop is blocked).
    progress(task, readings) {
      if (Date.now() - lastPing < 5000) return;
      lastPing = Date.now();
      const doing = task === 'salvage' ? 'salvaging a damaged buffer' : 'upgrading the buffer file';
      sdNotify(['WATCHDOG=1', 'EXTEND_TIMEOUT_USEC=60000000', `STATUS=${doing}: ${readings} readings so far`]).catch(
        () => undefined,
      );
    },
    upgraded(r) {
      log.info(r, `buffer file upgraded: ${r.readings} readings now stored compressed, a row per commit`);
    },
    problem(code, detail) {
      if (detail !== null && !status.hasProblem(code)) log.warn({ problem: code }, detail);
      else if (detail === null && status.hasProblem(code)) log.info({ problem: code }, `${code} cleared`);
      status.problem(code, detail);
    },
    salvaged(r) {
      status.salvaged(r.salvaged);
      if (r.lost !== null) status.dropped('corrupt', r.lost);
      const detail = `${r.salvaged} readings salvaged, ${r.lost ?? 'an unknown number of'} lost; damaged file kept as ${r.file}`;
      status.problem('buffer_corrupt', detail);
      log.error(
        { file: r.file, cause: r.cause, salvaged: r.salvaged, lost: r.lost, ms: r.ms },
        `buffer file damaged: ${detail}`,
      );
    },
  };
}

/** How often problems that nobody reports as events (clock, buffer fill level) are re-derived. */
const REFRESH_MS = 5000;

/**
 * A source's ups and downs in the log, once each: warn with the reason when it goes down, info
 * when it is back. Drivers report every reconnect attempt; only a change of up/down is news.
 */
function loggedStates(sink: DriverSink, log: Logger): DriverSink {
  let up: boolean | undefined;
  let downSince = 0;
  return {
    ...sink,
    state(state, detail) {
      sink.state(state, detail);
      if (state === 'up' && up !== true) {
        if (up === false)
          log.info(
            { downS: Math.round((performance.now() - downSince) / 1000) },
            `source ${log.bindings().source} is back`,
          );
        else log.info(`source ${log.bindings().source} is up`);
        up = true;
      } else if (state === 'down' && up !== false) {
        log.warn(
          { reason: detail ?? 'down' },
          `source ${log.bindings().source} is down: ${detail ?? 'no reason given'}`,
        );
        up = false;
        downSince = performance.now();
      }
    },
  };
}
