import type { MqttClient } from 'mqtt';

/** A QoS 1 publish at stop that gives up after a second (a broker that stopped answering must not hold the shutdown). */
export async function boundedPublish(c: MqttClient, topic: string, payload: Buffer | string, retain: boolean): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    c.publishAsync(topic, payload, { qos: 1, retain }).catch(() => undefined),
    new Promise<void>((r) => (timer = setTimeout(r, 1000))),
  ]);
  clearTimeout(timer);
}
