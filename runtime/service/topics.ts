import type { IPublishPacket } from 'mqtt';
import type { TopicTemplate } from './topic-template';

/** What the service does with a message, by the kind of topic it came on. */
export interface TopicHandlers {
  /** The fleet model-update topic (its agent has its own listener). */
  fleet(packet: IPublishPacket, admitted: () => void): void;
  /** The model control topic: a reload request. */
  control(packet: IPublishPacket, admitted: () => void): void;
  /** Any other topic: a reading; `params` undefined when the topic does not match the input template. */
  reading(packet: IPublishPacket, params: Record<string, string> | undefined, admitted: () => void): void;
}

/**
 * The topic table: every message the service receives is routed by its
 * topic to one handler (the shape of Aedes's handlers/index.js, keyed by
 * topic instead of packet type). Exact topics are looked up first; the input
 * template matches the rest.
 */
export class TopicTable {
  readonly #exact = new Map<string, (packet: IPublishPacket, admitted: () => void) => void>();
  readonly #input: TopicTemplate;
  readonly #reading: TopicHandlers['reading'];
  readonly #fleet: TopicHandlers['fleet'];

  constructor(controlTopic: string, input: TopicTemplate, handlers: TopicHandlers) {
    this.#input = input;
    this.#reading = handlers.reading;
    this.#fleet = handlers.fleet;
    this.#exact.set(controlTopic, handlers.control);
  }

  /** Routes the fleet topic (known once the fleet agent runs). */
  set fleetTopic(topic: string) {
    this.#exact.set(topic, this.#fleet);
  }

  dispatch(packet: IPublishPacket, admitted: () => void): void {
    const exact = this.#exact.get(packet.topic);
    if (exact !== undefined) return exact(packet, admitted);
    this.#reading(packet, this.#input.match(packet.topic), admitted);
  }
}
