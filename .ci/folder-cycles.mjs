// Cycles between folders (the top-level ones, and the rooms of gateway/): two folders that import
// each other, directly or around a loop, are one design split in two. Files may be cycle-free while
// their folders are not, so Biome's file-level check does not catch this. Reads dist/ (run after build).
import { cruise } from 'dependency-cruiser';

const roomOf = (path) => {
  const [, top, sub] = /^dist\/([^/]+)\/([^/]+)/.exec(path) ?? [];
  if (!top || sub === 'test' || sub === 'bench') return undefined; // tests and bench sit on top of everything
  return top === 'gateway' ? `gateway/${sub.replace(/\.js$/, '')}` : top;
};

const { output } = await cruise(['dist'], { doNotFollow: { path: 'node_modules' }, exclude: { path: '\\.map$' } });
const edges = new Map(); // room -> Map(room -> an example import)
for (const m of output.modules) {
  const from = roomOf(m.source);
  if (!from) continue;
  for (const d of m.dependencies) {
    const to = roomOf(d.resolved);
    if (!to || to === from) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${m.source} -> ${d.resolved}`);
  }
}

// Depth-first search; a back edge closes a cycle.
const state = new Map();
const stack = [];
const cycles = [];
const visit = (room) => {
  state.set(room, 'open');
  stack.push(room);
  for (const next of edges.get(room)?.keys() ?? []) {
    if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
    else if (!state.has(next)) visit(next);
  }
  stack.pop();
  state.set(room, 'done');
};
for (const room of edges.keys()) if (!state.has(room)) visit(room);

for (const cycle of cycles) {
  console.error(`folder cycle: ${cycle.join(' -> ')}`);
  for (let i = 0; i + 1 < cycle.length; i++) console.error(`  ${edges.get(cycle[i]).get(cycle[i + 1])}`);
}
if (cycles.length) process.exit(1);
const folders = new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]);
console.log(`no cycles between ${folders.size} folders`);
