/**
 * Facts about the device the gateway runs on, for the status page: is the flash filling up, is the
 * process growing, is the SoC running hot. Every fact is null where this machine cannot say.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { arch, freemem, hostname, loadavg, totalmem } from 'node:os';
import type { HostFacts } from './status-document.js';

const THERMAL_ZONE = '/sys/class/thermal/thermal_zone0/temp';

export function hostFacts(dataDir: string | undefined): HostFacts {
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  const disk = diskOf(dataDir);
  return {
    hostname: hostname(),
    arch: arch(),
    diskFreeBytes: disk?.free ?? null,
    diskTotalBytes: disk?.total ?? null,
    rssBytes: process.memoryUsage.rss(),
    memFreeBytes: freemem(),
    memTotalBytes: totalmem(),
    cpuTempC: cpuTemperature(),
    load: [round2(l1), round2(l5), round2(l15)],
  };
}

function diskOf(dir: string | undefined): { free: number; total: number } | undefined {
  if (!dir) return undefined;
  try {
    const s = statfsSync(dir);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  } catch {
    return undefined; // not created yet, or not a filesystem we may stat
  }
}

function cpuTemperature(): number | null {
  try {
    const milli = Number(readFileSync(THERMAL_ZONE, 'utf8').trim());
    return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null;
  } catch {
    return null;
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
