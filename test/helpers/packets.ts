import { parser, type IPacket } from 'mqtt-packet';

/** Every packet of a buffer, as mqtt-packet (the parser mqtt.js and brokers' test suites use) reads it. */
export function parsePackets(buf: Buffer, protocolVersion: 4 | 5): IPacket[] {
  const p = parser({ protocolVersion });
  const out: IPacket[] = [];
  const errors: Error[] = [];
  p.on('packet', (pk: IPacket) => out.push(pk));
  p.on('error', (e: Error) => errors.push(e));
  p.parse(buf);
  if (errors.length > 0) throw errors[0];
  return out;
}
