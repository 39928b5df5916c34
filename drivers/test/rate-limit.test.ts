import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../rate-limit.js';

test('a token bucket admits a burst, then the rate, and refills while idle', () => {
  let now = 0;
  const bucket = new TokenBucket(10, 3, () => now);
  const admitted = () => {
    let n = 0;
    while (bucket.take()) n++;
    return n;
  };
  assert.equal(admitted(), 3, 'the burst');
  now += 500;
  assert.equal(admitted(), 3, 'half a second at 10/s, capped at the burst');
  now += 100;
  assert.equal(admitted(), 1);
  now += 50;
  assert.equal(admitted(), 0, 'half a token is no token');
  now += 50;
  assert.equal(admitted(), 1);
});
