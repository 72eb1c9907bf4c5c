/**
 * The stream sequence of a JetStream message from its reply subject, without
 * nats.js's `JsMsg.info` (which splits the subject into tokens and builds an
 * object of nine fields, once per reading, for the one number taken here).
 * Both formats nats.js reads: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`
 * (9 tokens) and `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>...` (11 or more).
 * undefined for anything else (the caller then asks `m.seq`, which throws for a non-JetStream subject).
 */
export function streamSeqOf(reply: string): number | undefined {
  if (!reply.startsWith('$JS.ACK.')) return undefined;
  // dot positions: the sequence is token 5 of 9, or token 7 of 11 or more
  let dots = 0;
  let start5 = -1;
  let end5 = -1;
  let start7 = -1;
  let end7 = -1;
  for (let i = 0; i < reply.length; i++) {
    if (reply.charCodeAt(i) !== 46) continue;
    dots++;
    if (dots === 5) start5 = i + 1;
    else if (dots === 6) end5 = i;
    else if (dots === 7) start7 = i + 1;
    else if (dots === 8) end7 = i;
  }
  const tokens = dots + 1;
  if (tokens === 9) return digits(reply, start5, end5);
  if (tokens >= 11) return digits(reply, start7, end7);
  return undefined;
}

/** A decimal integer spanning [from, to) exactly, or undefined (also past 2^53: left to nats.js). */
function digits(s: string, from: number, to: number): number | undefined {
  if (from < 0 || to <= from || to - from > 16) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : undefined;
}
