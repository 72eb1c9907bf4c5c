/**
 * A raw MQTT 5 client for broker diagnostics (bench/puback-*.ts): QoS 1
 * deliveries are acknowledged at once or held (their message ids kept in
 * arrival order), each publish resolves on its PUBACK. No reconnect, no
 * keepalive: a measuring tool.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcp, createServer, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export class Raw {
  readonly socket: Socket;
  readonly parser = mqttPacket.parser({ protocolVersion: 5 });
  nextId = 1;
  received = 0;
  held: number[] = [];
  acks = new Map<number, () => void>();
  waiters: { cmd: string; resolve: () => void }[] = [];
  ackIncoming = true;
  /** When set, takes each QoS 1 delivery's message id instead of the ack-or-hold above. */
  onDelivery: ((messageId: number) => void) | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => undefined);
    this.parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'publish') {
        this.received++;
        if (p.qos === 1 && p.messageId !== undefined) {
          if (this.onDelivery) this.onDelivery(p.messageId);
          else if (this.ackIncoming) this.send({ cmd: 'puback', messageId: p.messageId });
          else this.held.push(p.messageId);
        }
      } else if (p.cmd === 'puback' && p.messageId !== undefined) {
        const f = this.acks.get(p.messageId);
        this.acks.delete(p.messageId);
        f?.();
      } else {
        const i = this.waiters.findIndex((w) => w.cmd === p.cmd);
        if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve();
      }
    });
  }

  static async open(port: number, clientId: string): Promise<Raw> {
    const s = tcp(port, '127.0.0.1');
    await once(s, 'connect');
    s.setNoDelay(true);
    const c = new Raw(s);
    const ok = c.wait('connack');
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 0, properties: { receiveMaximum: 65535 } });
    await ok;
    return c;
  }

  send(p: mqttPacket.Packet): void {
    this.socket.write(mqttPacket.generate(p, { protocolVersion: 5 }));
  }

  wait(cmd: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ cmd, resolve }));
  }

  async subscribe(topic: string): Promise<void> {
    const ok = this.wait('suback');
    this.send({ cmd: 'subscribe', messageId: this.id(), subscriptions: [{ topic, qos: 1 }] });
    await ok;
  }

  id(): number {
    const i = this.nextId;
    this.nextId = i === 65535 ? 1 : i + 1;
    return i;
  }

  publish(topic: string, payload: string): Promise<void> {
    const messageId = this.id();
    const p = new Promise<void>((resolve) => this.acks.set(messageId, resolve));
    this.send({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, messageId });
    return p;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

/** A Mosquitto on a free port with the fuzz harness's settings; `cpuSeconds` reads its CPU time from /proc. */
export async function startMosquitto(bin = 'mosquitto'): Promise<{ port: number; cpuSeconds(): number; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt5-probe-'));
  const port = await freePort();
  writeFileSync(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n`);
  const broker = spawn(bin, ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try { (await Raw.open(port, 'probe')).socket.destroy(); break; } catch { await sleep(100); }
  }
  return {
    port,
    cpuSeconds: () => {
      const f = readFileSync(`/proc/${broker.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    stop: () => { broker.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); },
  };
}
