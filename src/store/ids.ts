/**
 * Build ids: "b_" + a monotonic ULID (48-bit millisecond time + 80 random bits, Crockford base32),
 * so that sorting ids sorts builds by creation, even within one millisecond.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function freshRandom(): number[] {
  return Array.from(randomBytes(16), (b) => b & 31);
}

/** Adds one to the 16-digit base-32 number (carry); wraps only after 2^80 ids in one millisecond. */
function increment(digits: number[]): number[] {
  const out = digits.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] < 31) {
      out[i]++;
      return out;
    }
    out[i] = 0;
  }
  return out;
}

export function newBuildId(now = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    lastTime = now;
    lastRandom = freshRandom();
  }
  return `b_${encodeTime(lastTime)}${lastRandom.map((d) => ALPHABET[d]).join('')}`;
}
