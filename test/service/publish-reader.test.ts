import t from 'tap';
import { EventEmitter } from 'node:events';
import { generate, parser, type IPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import { PublishReader, type PublishSink } from '../../runtime/service/publish-reader';

/** A socket stand-in: chunks pushed by the test, pause/resume recorded. */
class Source extends EventEmitter {
  paused = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
}

/** mqtt.js's parsing stream stand-in: parses what it is given with mqtt-packet, answers after a tick. */
class Dest {
  readonly packets: IPacket[] = [];
  readonly #parser;
  ended = false;
  constructor(v: 4 | 5, readonly log: string[]) {
    this.#parser = parser({ protocolVersion: v });
    this.#parser.on('packet', (p: IPacket) => {
      this.packets.push(p);
      log.push(`mqttjs:${p.cmd}${'messageId' in p && p.messageId !== undefined ? `:${p.messageId}` : ''}`);
    });
  }
  write(chunk: Buffer, cb: () => void): boolean {
    this.#parser.parse(chunk);
    setImmediate(cb);
    return true;
  }
  end(): void {
    this.ended = true;
  }
}

function packets(v: 4 | 5): Packet[] {
  const out: Packet[] = [
    { cmd: 'connack', returnCode: 0, reasonCode: 0, sessionPresent: false } as Packet,
    { cmd: 'publish', topic: 'sensors/a/telemetry', payload: Buffer.from('{"value":1}'), qos: 1, messageId: 1, retain: false, dup: false },
    { cmd: 'publish', topic: 'sensors/b/telemetry', payload: Buffer.from('x'.repeat(300)), qos: 0, retain: true, dup: false },
    { cmd: 'suback', messageId: 9, granted: [1] } as Packet,
    { cmd: 'publish', topic: 'sensors/été/telemetry', payload: Buffer.from('{"value":"µ"}'), qos: 1, messageId: 65535, retain: false, dup: true },
    { cmd: 'puback', messageId: 300 },
    { cmd: 'publish', topic: 'q2', payload: Buffer.from('two'), qos: 2, messageId: 12, retain: false, dup: false },
    { cmd: 'pingresp' },
    { cmd: 'publish', topic: 'big', payload: Buffer.alloc(20_000, 7), qos: 1, messageId: 2, retain: false, dup: false },
    { cmd: 'puback', messageId: 301 },
  ];
  if (v === 5) {
    out.push({ cmd: 'publish', topic: 'props', payload: Buffer.from('p'), qos: 1, messageId: 3, retain: false, dup: false, properties: { userProperties: { a: 'b' } } });
    out.push({ cmd: 'puback', messageId: 302, reasonCode: 16 });
    out.push({ cmd: 'puback', messageId: 303, reasonCode: 0x80 });
  }
  out.push({ cmd: 'publish', topic: 'last', payload: Buffer.from('end'), qos: 1, messageId: 4, retain: false, dup: false });
  return out;
}

/** Runs the packets through a reader in chunks of `size` bytes; `defer`: handlers admit on a later turn. */
async function run(v: 4 | 5, size: number, defer: boolean, connectedAfter = 0) {
  const log: string[] = [];
  const src = new Source();
  const dest = new Dest(v, log);
  const got: IPublishPacket[] = [];
  let pausedSeen = false;
  let seen = 0;
  const sink: PublishSink = {
    ready: () => seen >= connectedAfter,
    publish: (p, admitted) => {
      got.push(p);
      log.push(`fast:publish:${p.messageId ?? '-'}`);
      if (defer) {
        setImmediate(() => {
          pausedSeen ||= src.paused;
          admitted();
        });
      } else admitted();
    },
    puback: (id) => {
      log.push(`fast:puback:${id}`);
      return id !== 301; // 301: "not ours", mqtt.js handles it
    },
  };
  const reader = new PublishReader(src, dest, sink, v);
  const all = Buffer.concat(packets(v).map((p) => generate(p, { protocolVersion: v })));
  for (let o = 0; o < all.length; o += size) {
    src.emit('data', all.subarray(o, o + size));
    seen++;
    await new Promise((r) => setImmediate(r));
  }
  for (let i = 0; i < 50 && !log.some((l) => l.endsWith(':4')); i++) await new Promise((r) => setImmediate(r));
  src.emit('end');
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return { log, got, dest, reader, pausedSeen, src };
}

t.test('PublishReader decodes PUBLISH (QoS 0/1) and PUBACK itself, hands every other packet to mqtt.js whole and in order', async (t) => {
  for (const v of [4, 5] as const) {
    for (const size of [1, 7, 64, 100_000]) {
      for (const defer of [false, true]) {
        const { log, got, dest, reader, pausedSeen, src } = await run(v, size, defer);
        const ids = (v === 5 ? ['fast:publish:1', 'fast:publish:-', 'mqttjs:suback:9', 'fast:publish:65535', 'fast:puback:300', 'mqttjs:publish:12', 'mqttjs:pingresp', 'fast:publish:2', 'fast:puback:301', 'mqttjs:puback:301', 'mqttjs:publish:3', 'fast:puback:302', 'mqttjs:puback:303', 'fast:publish:4']
          : ['fast:publish:1', 'fast:publish:-', 'mqttjs:suback:9', 'fast:publish:65535', 'fast:puback:300', 'mqttjs:publish:12', 'mqttjs:pingresp', 'fast:publish:2', 'fast:puback:301', 'mqttjs:puback:301', 'fast:publish:4']);
        const label = `v${v}, chunks of ${size}, ${defer ? 'deferred' : 'immediate'} admission`;
        t.same(log, ['mqttjs:connack', ...ids], `${label}: order kept across both paths`);
        const want = packets(v).filter((p): p is IPublishPacket => p.cmd === 'publish' && p.qos < 2 && p.properties === undefined);
        t.equal(got.length, want.length, label);
        for (let i = 0; i < want.length; i++) {
          const w = want[i]!;
          const g = got[i]!;
          t.same({ topic: g.topic, qos: g.qos, retain: g.retain, dup: g.dup, messageId: g.messageId, payload: Buffer.from(g.payload as Buffer).toString('hex') },
            { topic: w.topic, qos: w.qos, retain: w.retain, dup: w.dup, messageId: w.messageId, payload: (w.payload as Buffer).toString('hex') }, `${label}: publish ${i} decoded exactly`);
        }
        t.equal(reader.decoded, got.length + (v === 5 ? 2 : 1), `${label}: PUBACKs 300 (and 302) decoded here`);
        t.ok(dest.ended, `${label}: end passed on`);
        t.notOk(src.paused, `${label}: socket flowing at the end`);
        if (defer && size === 100_000) t.ok(pausedSeen, `${label}: socket paused while a handler had not admitted`);
      }
    }
  }
});

t.test('PublishReader hands everything to mqtt.js before the client is ready (CONNACK not yet handled)', async (t) => {
  const { log } = await run(4, 100_000, false, Number.POSITIVE_INFINITY);
  t.ok(log.every((l) => l.startsWith('mqttjs:')), 'nothing decoded on the fast path');
  t.equal(log.filter((l) => l.startsWith('mqttjs:publish')).length, 6);
});

t.test('PublishReader: a malformed remaining length goes to mqtt.js with everything after it', async (t) => {
  const log: string[] = [];
  const src = new Source();
  const chunks: Buffer[] = [];
  const dest = { write: (c: Buffer, cb: () => void) => (chunks.push(c), setImmediate(cb), true), end: () => undefined };
  const sink: PublishSink = { ready: () => true, publish: (p, a) => (log.push(p.topic), a()), puback: () => true };
  new PublishReader(src, dest, sink, 4);
  const ok = generate({ cmd: 'publish', topic: 'ok', payload: Buffer.from('1'), qos: 0, retain: false, dup: false });
  const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]);
  src.emit('data', Buffer.concat([ok, bad, ok]));
  await new Promise((r) => setImmediate(r));
  t.same(log, ['ok']);
  t.same(Buffer.concat(chunks), Buffer.concat([bad, ok]), 'the rest, byte for byte, to mqtt.js (which reports the error)');
});
