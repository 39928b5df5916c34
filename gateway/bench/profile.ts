/**
 * Where the gateway's main thread spends its time: a summary of the .cpuprofile that
 * `node --cpu-prof` writes (self time per function and per area: a package, a Node core module,
 * one of our files, or the VM's own (garbage collector), (program), (idle)).
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  selfMs: number;
  percent: number;
}

/** The part of the profile to summarise, in ms before the profile's end (the process exit). */
export interface ProfileWindow {
  fromEndMs: number;
  toEndMs: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall time summarised. */
  wallMs: number;
  /** Share of the samples in which the thread was busy (not idle). */
  busyPercent: number;
  functions: ProfileLine[];
  areas: ProfileLine[];
}

/** Which part of the system a script URL belongs to. */
function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native code)';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const ours = /\/dist\/(.+)$/.exec(url);
  return ours ? ours[1]! : url.slice(url.lastIndexOf('/') + 1);
}

/** A script URL short enough to read: package/path, node:module, or our dist-relative path. */
function shortUrl(url: string): string {
  const pkg = /\/node_modules\/(.+)$/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/dist\/(.+)$/.exec(url);
  return ours ? ours[1]! : url;
}

function top(map: Map<string, number>, totalHits: number, msPerHit: number, limit: number): ProfileLine[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, hits]) => ({ name, selfMs: hits * msPerHit, percent: (100 * hits) / totalHits }));
}

export async function summariseProfile(file: string, window?: ProfileWindow, limit = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const from = window ? profile.endTime - window.fromEndMs * 1000 : profile.startTime;
  const to = window ? profile.endTime - window.toEndMs * 1000 : profile.endTime;
  const hitsOf = new Map<number, number>();
  let t = profile.startTime;
  let totalHits = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) return;
    hitsOf.set(id, (hitsOf.get(id) ?? 0) + 1);
    totalHits++;
  });
  if (totalHits === 0) throw new Error(`${file}: no samples in the measured window`);
  const wallMs = (to - from) / 1000;
  const msPerHit = wallMs / totalHits;
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = hitsOf.get(node.id) ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    if (area === '(idle)') idle += hits;
    const fn =
      url === ''
        ? functionName || '(anonymous)'
        : `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + hits);
    areas.set(area, (areas.get(area) ?? 0) + hits);
  }
  return {
    file,
    wallMs,
    busyPercent: (100 * (totalHits - idle)) / totalHits,
    functions: top(functions, totalHits, msPerHit, limit),
    areas: top(areas, totalHits, msPerHit, limit),
  };
}
