/**
 * Which folder may import which. Checked on the compiled dist/ by `npm run lint` (the TypeScript
 * compiler the project uses is newer than dependency-cruiser's parser); cycles between folders are
 * checked by .ci/folder-cycles.mjs on the same graph, and between files by Biome (noImportCycles).
 */
const top = (name) => `^dist/${name}/`;
const tests = '/test/';

module.exports = {
  forbidden: [
    {
      name: 'drivers-stand-alone',
      severity: 'error',
      comment: 'drivers/ is the hardware edge: it knows nothing of the gateway, the simulator or deploy.',
      from: { path: top('drivers'), pathNot: tests },
      to: { path: `${top('gateway')}|${top('firmware-sim')}|${top('deploy')}` },
    },
    {
      name: 'gateway-only-cli-wires-tools',
      severity: 'error',
      comment:
        'Only the CLI wires in the simulator and deploy tooling; the daemon never loads them. The bench and tests start brokers with deploy/ too.',
      from: { path: top('gateway'), pathNot: `^dist/gateway/(cli|bench|test)/` },
      to: { path: `${top('firmware-sim')}|${top('deploy')}` },
    },
    {
      name: 'tools-get-gateway-injected',
      severity: 'error',
      comment: 'deploy/ and firmware-sim/ get what they need of the gateway injected (e.g. config validation).',
      from: { path: `${top('deploy')}|${top('firmware-sim')}`, pathNot: tests },
      to: { path: top('gateway') },
    },
    {
      name: 'simulator-apart-from-deploy',
      severity: 'error',
      comment: 'The simulator and the deploy tooling do not import each other.',
      from: { path: top('firmware-sim'), pathNot: tests },
      to: { path: top('deploy') },
    },
    {
      name: 'deploy-apart-from-simulator',
      severity: 'error',
      comment: 'The simulator and the deploy tooling do not import each other.',
      from: { path: top('deploy'), pathNot: tests },
      to: { path: top('firmware-sim') },
    },
    {
      name: 'kafkajs-through-its-fixes',
      severity: 'error',
      comment:
        'The gateway loads kafkajs through gateway/uplink/kafkajs.ts, which replaces parts of it before it loads (those fixes and their tests reach into it). deploy/ loads it only for admin calls, when first needed.',
      from: { pathNot: '^dist/(gateway/uplink/kafkajs[^/]*\\.js|gateway/test/kafkajs-[^/]*\\.test\\.js|deploy/)' },
      to: { path: 'node_modules/kafkajs/' },
    },
    {
      name: 'production-not-on-tests',
      severity: 'error',
      comment: 'Production code never imports test code.',
      from: { pathNot: tests },
      to: { path: tests },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.map$' },
  },
};
