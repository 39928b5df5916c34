/**
 * The Sparkplug B codec and session, as pure functions: names, topics, births and aliases,
 * datatypes, sequence gaps, deaths, and that no input makes them throw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import {
  encodePayload,
  fromName,
  type OutMetric,
  parseTopic,
  rebirthRequest,
  sensorName,
  toName,
} from '../mqtt/sparkplug-codec.js';
import { REBIRTH_INTERVAL_MS, SparkplugSession } from '../mqtt/sparkplug-session.js';
import { NAME_PATTERN } from '../names.js';

const { Payload } = proto.org.eclipse.tahu.protobuf;
const T0 = 1_764_500_000_000;
const session = () => {
  let now = T0;
  return new SparkplugSession({ maxPayloadBytes: 65536, now: () => now++ });
};
const msg = (seq: number | undefined, metrics: OutMetric[], timestamp = T0) =>
  encodePayload({ timestamp, seq, metrics });
const reasons = (o: { rejections: Array<{ reason: string }> }) => o.rejections.map((r) => r.reason);

test('names: kept, / made ., everything else escaped as _HH; reversible, and valid names where short enough', () => {
  assert.equal(toName('Inputs/Temperature C'), 'Inputs.Temperature_20C');
  assert.equal(toName('rpm'), 'rpm');
  assert.equal(toName('a.b_c-d'), 'a_2Eb_5Fc-d');
  assert.equal(toName('Druck/bar²'), 'Druck.bar_C2_B2');
  assert.equal(fromName('Inputs.Temperature_20C'), 'Inputs/Temperature C');
  assert.equal(fromName('a_2Eb_5Fc-d'), 'a.b_c-d');
  assert.equal(fromName('bad_zz'), undefined);
  assert.equal(sensorName('edge-1'), 'edge-1');
  assert.equal(sensorName('edge.1', 'pump 2'), 'edge_2E1.pump_202');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      const n = toName(s);
      assert.equal(fromName(n), s);
      if (n.length >= 1 && n.length <= 64) assert.match(n, NAME_PATTERN);
    }),
  );
});

test('topics: node and device messages, host state; anything else is not Sparkplug', () => {
  assert.deepEqual(parseTopic('spBv1.0/plant/NDATA/edge-1'), { group: 'plant', type: 'NDATA', node: 'edge-1' });
  assert.deepEqual(parseTopic('spBv1.0/plant/DBIRTH/edge-1/boiler'), {
    group: 'plant',
    type: 'DBIRTH',
    node: 'edge-1',
    device: 'boiler',
  });
  assert.equal(parseTopic('spBv1.0/STATE/scada-host'), 'state');
  for (const t of [
    'spBv1.0/plant/NDATA/edge-1/x',
    'spBv1.0/plant/DDATA/edge-1',
    'spBv1.0/plant/FOO/a',
    'spAv1.0/plant/NDATA/a',
    'plant/x/y',
    'spBv1.0//NDATA/a',
  ]) {
    assert.equal(parseTopic(t), undefined, t);
  }
});

test("births define aliases, data resolves them, with the metric timestamp (else the payload's), units and datatypes", () => {
  const s = session();
  const birth = s.receive(
    'spBv1.0/plant/DBIRTH/edge-1/boiler',
    msg(0, [
      { name: 'Inputs/Temperature', alias: 1, type: 'Float', value: 71.5, unit: 'C' },
      { name: 'running', alias: 2, type: 'Boolean', value: true },
      { name: 'offset', alias: 3, type: 'Int16', value: -5 },
      { name: 'count', alias: 4, type: 'UInt32', value: 4_000_000_000 },
      { name: 'delta', alias: 5, type: 'Int64', value: -7 },
      { name: 'Properties/Make', alias: 6, type: 'String', value: 'ACME' },
    ]),
  );
  assert.deepEqual(birth.readings, [
    { sensor: 'edge-1.boiler', metric: 'Inputs.Temperature', value: 71.5, ts: T0, unit: 'C' },
    { sensor: 'edge-1.boiler', metric: 'running', value: 1, ts: T0 },
    { sensor: 'edge-1.boiler', metric: 'offset', value: -5, ts: T0 },
    { sensor: 'edge-1.boiler', metric: 'count', value: 4_000_000_000, ts: T0 },
    { sensor: 'edge-1.boiler', metric: 'delta', value: -7, ts: T0 },
  ]);
  assert.deepEqual(reasons(birth), ['not_a_number'], 'a string is refused and counted');
  assert.ok(birth.presenceChanged);

  const data = s.receive(
    'spBv1.0/plant/DDATA/edge-1/boiler',
    msg(
      1,
      [
        { alias: 1, type: 'Float', value: 72.25, timestamp: T0 + 5 },
        { alias: 3, type: 'Int16', value: -300 },
        { alias: 2, type: 'Boolean', value: false },
      ],
      T0 + 9,
    ),
  );
  assert.deepEqual(data.readings, [
    { sensor: 'edge-1.boiler', metric: 'Inputs.Temperature', value: 72.25, ts: T0 + 5, unit: 'C' },
    { sensor: 'edge-1.boiler', metric: 'offset', value: -300, ts: T0 + 9 },
    { sensor: 'edge-1.boiler', metric: 'running', value: 0, ts: T0 + 9 },
  ]);
  assert.deepEqual(data.rejections, []);
  assert.equal(data.presenceChanged, false);
  // Data messages leave the datatype out, as edge nodes do: the birth's is used.
  const raw = Payload.decode(msg(2, [{ alias: 3, type: 'Int16', value: -1 }]));
  assert.equal(Object.hasOwn(raw.metrics[0], 'datatype'), false);
});

test('an alias without a birth is quarantined as unknown_alias; a rebirth with new aliases is followed', () => {
  const s = session();
  const early = s.receive('spBv1.0/plant/DDATA/edge-1/pump', msg(undefined, [{ alias: 7, type: 'Double', value: 1 }]));
  assert.deepEqual(reasons(early), ['unknown_alias']);
  assert.deepEqual(early.readings, []);
  assert.ok(early.rejections[0]!.payload, 'the message is kept in quarantine');

  s.receive('spBv1.0/plant/NBIRTH/edge-1', msg(0, [{ name: 'bdSeq', type: 'Int64', value: 0 }]));
  s.receive('spBv1.0/plant/DBIRTH/edge-1/pump', msg(1, [{ name: 'flow', alias: 7, type: 'Double', value: 1 }]));
  assert.equal(
    s.receive('spBv1.0/plant/DDATA/edge-1/pump', msg(2, [{ alias: 7, type: 'Double', value: 2 }])).readings[0]!.metric,
    'flow',
  );
  // Reborn: alias 7 is now another metric; an NBIRTH voids device aliases until DBIRTH.
  s.receive('spBv1.0/plant/NBIRTH/edge-1', msg(0, [{ name: 'bdSeq', type: 'Int64', value: 1 }]));
  assert.deepEqual(
    reasons(s.receive('spBv1.0/plant/DDATA/edge-1/pump', msg(1, [{ alias: 7, type: 'Double', value: 3 }]))),
    ['unknown_alias'],
  );
  s.receive(
    'spBv1.0/plant/DBIRTH/edge-1/pump',
    msg(2, [
      { name: 'pressure', alias: 7, type: 'Double', value: 4 },
      { name: 'flow', alias: 8, type: 'Double', value: 5 },
    ]),
  );
  const after = s.receive(
    'spBv1.0/plant/DDATA/edge-1/pump',
    msg(3, [
      { alias: 7, type: 'Double', value: 6 },
      { alias: 8, type: 'Double', value: 7 },
    ]),
  );
  assert.deepEqual(
    after.readings.map((r) => [r.metric, r.value]),
    [
      ['pressure', 6],
      ['flow', 7],
    ],
  );
});

test('a message of thousands of refused metrics is counted in full but quarantined once per reason', () => {
  const s = session();
  s.receive('spBv1.0/plant/NBIRTH/edge-1', msg(0, [{ name: 'x', alias: 1, type: 'Int32', value: 1 }]));
  const good = msg(1, [
    { alias: 1, type: 'Int32', value: 2 },
    ...Array.from({ length: 2000 }, (_, i) => ({ alias: 100 + i, type: 'Int32' as const, value: i })),
  ]);
  // 1,000 empty metrics (field 2, length 0): neither name nor alias.
  const bytes = Buffer.concat([good, Buffer.from(new Array(1000).fill([0x12, 0x00]).flat())]);
  const out = s.receive('spBv1.0/plant/NDATA/edge-1', bytes);
  assert.deepEqual(
    out.readings.map((r) => [r.metric, r.value]),
    [['x', 2]],
  );
  assert.deepEqual(
    out.rejections.map((r) => [r.reason, r.count]),
    [
      ['unknown_alias', 2000],
      ['missing_field', 1000],
    ],
  );
  assert.match(
    out.rejections[0]!.detail,
    /alias 100 was defined by no birth certificate \(and 1999 more metrics of this message\)/,
  );
  assert.ok(out.rejections.every((r) => r.payload === bytes));
  // One refused metric is one rejection, as before.
  const one = s.receive('spBv1.0/plant/NDATA/edge-1', msg(2, [{ alias: 5, type: 'Int32', value: 1 }]));
  assert.deepEqual(
    one.rejections.map((r) => [r.reason, r.count, r.detail]),
    [['unknown_alias', undefined, 'edge-1: alias 5 was defined by no birth certificate']],
  );
});

test('a birth that gives one alias to two metrics: refused as ambiguous_alias, and data by that alias resolve to neither', () => {
  const s = session();
  const birth = s.receive(
    'spBv1.0/plant/NBIRTH/edge-1',
    msg(0, [
      { name: 'Boiler/Temp', alias: 7, type: 'Double', value: 80, unit: 'C' },
      { name: 'Boiler/Pressure', alias: 7, type: 'Double', value: 2, unit: 'bar' },
      { name: 'Boiler/Level', alias: 8, type: 'Double', value: 0.5 },
    ]),
  );
  assert.deepEqual(
    birth.readings.map((r) => r.metric),
    ['Boiler.Temp', 'Boiler.Pressure', 'Boiler.Level'],
    "the birth's own values are named, so they are taken",
  );
  assert.deepEqual(reasons(birth), ['ambiguous_alias']);
  assert.match(birth.rejections[0]!.detail, /gives alias 7 to 2 metrics \(Boiler\/Temp, Boiler\/Pressure\)/);
  const data = s.receive(
    'spBv1.0/plant/NDATA/edge-1',
    msg(1, [
      { alias: 7, type: 'Double', value: 95.5 },
      { alias: 8, type: 'Double', value: 0.6 },
    ]),
  );
  assert.deepEqual(
    data.readings.map((r) => [r.metric, r.value]),
    [['Boiler.Level', 0.6]],
  );
  assert.deepEqual(reasons(data), ['ambiguous_alias']);
  assert.equal(data.rebirth, undefined, 'a rebirth would only repeat the same birth');
  // The same name twice under one alias is a repeated metric, not an ambiguity.
  const again = s.receive(
    'spBv1.0/plant/NBIRTH/edge-1',
    msg(0, [
      { name: 'Boiler/Temp', alias: 7, type: 'Double', value: 80 },
      { name: 'Boiler/Temp', alias: 7, type: 'Double', value: 81 },
    ]),
  );
  assert.deepEqual(reasons(again), []);
  assert.equal(
    s.receive('spBv1.0/plant/NDATA/edge-1', msg(1, [{ alias: 7, type: 'Double', value: 82 }])).readings[0]!.metric,
    'Boiler.Temp',
  );
});

test('data with unknown aliases ask the edge node for its births, at most once per interval', () => {
  let now = T0;
  const s = new SparkplugSession({ maxPayloadBytes: 65536, now: () => now });
  const data = () =>
    s.receive('spBv1.0/plant/DDATA/edge-1/pump', msg(undefined, [{ alias: 7, type: 'Double', value: 1 }]));
  assert.deepEqual(data().rebirth, { group: 'plant', node: 'edge-1' });
  now += REBIRTH_INTERVAL_MS - 1;
  assert.equal(data().rebirth, undefined);
  now += 1;
  assert.deepEqual(data().rebirth, { group: 'plant', node: 'edge-1' });
  const req = rebirthRequest('plant', 'edge-1', T0);
  assert.equal(req.topic, 'spBv1.0/plant/NCMD/edge-1');
  const m = Payload.decode(req.payload).metrics[0]!;
  assert.deepEqual([m.name, m.booleanValue], ['Node Control/Rebirth', true]);
});

test('sequence gaps are counted; readings of the message still count', () => {
  const s = session();
  s.receive('spBv1.0/g/NBIRTH/n', msg(0, [{ name: 'x', alias: 1, type: 'Int32', value: 1 }]));
  assert.deepEqual(reasons(s.receive('spBv1.0/g/NDATA/n', msg(1, [{ alias: 1, type: 'Int32', value: 2 }]))), []);
  const gap = s.receive('spBv1.0/g/NDATA/n', msg(5, [{ alias: 1, type: 'Int32', value: 3 }]));
  assert.deepEqual(reasons(gap), ['sequence_gap']);
  assert.match(gap.rejections[0]!.detail, /3 message\(s\) missing/);
  assert.equal(gap.readings.length, 1);
  // 255 wraps to 0.
  s.receive('spBv1.0/g/NDATA/n', msg(255, [{ alias: 1, type: 'Int32', value: 4 }]));
  assert.deepEqual(reasons(s.receive('spBv1.0/g/NDATA/n', msg(0, [{ alias: 1, type: 'Int32', value: 5 }]))), []);
});

test('messages the gateway refused unread (too large, rate limited) are not counted again as a sequence gap', () => {
  const s = new SparkplugSession({ maxPayloadBytes: 200, now: () => T0 });
  const data = (seq: number, metrics = 1) =>
    s.receive(
      'spBv1.0/g/NDATA/n',
      msg(
        seq,
        Array.from({ length: metrics }, () => ({ alias: 1, type: 'Int32' as const, value: 1 })),
      ),
    );
  s.receive('spBv1.0/g/NBIRTH/n', msg(0, [{ name: 'x', alias: 1, type: 'Int32', value: 1 }]));
  assert.deepEqual(reasons(data(1, 50)), ['too_large']);
  s.refused('spBv1.0/g/DDATA/n/pump'); // over the source's rate limit, on a device of the same edge node
  assert.deepEqual(reasons(data(3)), [], 'seq 1 and 2 were refused here, not lost');
  // A real loss after a refusal still counts, as many as were lost.
  assert.deepEqual(reasons(data(4, 50)), ['too_large']);
  const gap = data(8);
  assert.deepEqual(reasons(gap), ['sequence_gap']);
  assert.match(gap.rejections[0]!.detail, /seq 8, expected 5: 3 message\(s\) missing/);
});

test('deaths mark edge nodes and devices offline without readings; a stale death is ignored; births bring them back', () => {
  const s = session();
  s.receive(
    'spBv1.0/g/NBIRTH/n',
    msg(0, [
      { name: 'bdSeq', type: 'Int64', value: 3 },
      { name: 'x', type: 'Int32', value: 1 },
    ]),
  );
  s.receive('spBv1.0/g/DBIRTH/n/d1', msg(1, [{ name: 'y', type: 'Int32', value: 1 }]));
  s.receive('spBv1.0/g/DBIRTH/n/d2', msg(2, [{ name: 'y', type: 'Int32', value: 1 }]));
  assert.equal(s.describe(), 'Sparkplug: 3 of 3 online');
  const ddeath = s.receive('spBv1.0/g/DDEATH/n/d2', msg(3, []));
  assert.ok(ddeath.presenceChanged);
  assert.deepEqual([ddeath.readings, ddeath.rejections], [[], []]);
  assert.match(s.describe()!, /^Sparkplug: 2 of 3 online; offline: n\.d2 \(DDEATH at /);
  // The will of an earlier session (bdSeq 2) arriving late changes nothing.
  assert.equal(
    s.receive('spBv1.0/g/NDEATH/n', msg(undefined, [{ name: 'bdSeq', type: 'Int64', value: 2 }])).presenceChanged,
    false,
  );
  const ndeath = s.receive('spBv1.0/g/NDEATH/n', msg(undefined, [{ name: 'bdSeq', type: 'Int64', value: 3 }]));
  assert.ok(ndeath.presenceChanged);
  assert.deepEqual(ndeath.readings, []);
  assert.deepEqual(
    s.presence().map((p) => [p.sensor, p.online, p.why]),
    [
      ['n', false, 'NDEATH'],
      ['n.d1', false, 'NDEATH'],
      ['n.d2', false, 'DDEATH'],
    ],
  );
  s.receive('spBv1.0/g/NBIRTH/n', msg(0, [{ name: 'bdSeq', type: 'Int64', value: 4 }]));
  assert.match(s.describe()!, /^Sparkplug: 1 of 3 online/);
  // Commands and host state are not readings and not errors.
  assert.deepEqual(
    s.receive('spBv1.0/g/NCMD/n', msg(undefined, [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }])),
    { readings: [], rejections: [], presenceChanged: false },
  );
  assert.deepEqual(s.receive('spBv1.0/STATE/host', Buffer.from('{"online":true}')).rejections, []);
});

test('what cannot be a reading is refused with a reason: bytes, sizes, names, values', () => {
  const s = session();
  // Each reason with how many metrics it stands for (one entry per reason and message).
  const one = (topic: string, bytes: Uint8Array) =>
    s.receive(topic, bytes).rejections.flatMap((r) => new Array<string>(r.count ?? 1).fill(r.reason));
  assert.deepEqual(one('spBv1.0/g/NDATA/n', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), ['garbage']);
  assert.deepEqual(one('spBv1.0/g/NDATA/n', Buffer.alloc(70_000)), ['too_large']);
  assert.deepEqual(one('plant/a/b', msg(0, [])), ['missing_field']);
  assert.deepEqual(one(`spBv1.0/g/NDATA/${'n'.repeat(70)}`, msg(0, [])), ['bad_name']);
  assert.deepEqual(
    one(
      'spBv1.0/g/NBIRTH/n',
      msg(0, [
        { name: 'm'.repeat(65), type: 'Double', value: 1 },
        { name: 'nan', type: 'Double', value: NaN },
        { name: 'nothing', type: 'Double', value: null },
        { name: 'late', type: 'Double', value: 1, timestamp: 2 ** 60 },
      ]),
    ),
    ['bad_name', 'not_a_number', 'not_a_number', 'bad_timestamp'],
  );
  const bytes = Payload.encode(
    Payload.create({
      metrics: [
        { name: 'ds', datatype: 16, datasetValue: { numOfColumns: 1, columns: ['a'], types: [3] } },
        { name: 'blob', bytesValue: Buffer.from('x') },
        {},
      ],
    }),
  ).finish();
  assert.deepEqual(one('spBv1.0/g/NDATA/n', bytes), ['not_a_number', 'not_a_number', 'missing_field']);
});

test('the session never throws, whatever the topic and bytes', () => {
  const s = session();
  const topics = fc.oneof(
    fc.constantFrom('spBv1.0/g/NBIRTH/n', 'spBv1.0/g/DDATA/n/d', 'spBv1.0/g/NDEATH/n', 'spBv1.0/g/DBIRTH/n/d'),
    fc.string(),
  );
  fc.assert(
    fc.property(topics, fc.uint8Array({ maxLength: 300 }), (topic, bytes) => {
      const out = s.receive(topic, bytes);
      assert.ok(Array.isArray(out.readings) && Array.isArray(out.rejections));
      for (const r of out.readings)
        assert.ok(Number.isFinite(r.value) && NAME_PATTERN.test(r.metric) && NAME_PATTERN.test(r.sensor));
    }),
    { numRuns: 3000 },
  );
});
