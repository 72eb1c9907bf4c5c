import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceTrack, EpisodeMark, TrackPoints } from './device-track';
import type { FleetView } from './fleet-view';
import { livePage } from './page';

/** SSE connections served at once; more get 503 (each costs a summary per tick). */
export const MAX_VIEW_CLIENTS = 32;
/** A client whose socket holds more unsent bytes than this skips ticks until it catches up. */
const SLOW_CLIENT_BYTES = 1 << 20;
const MAX_FILTER = 256;

/** A device's chart data: all points the ring holds, or the new ones since the last message. */
export interface DeviceUpdate {
  device: string;
  targets: readonly string[];
  points: TrackPoints;
  episodes: EpisodeMark[];
  forecast: number[];
  errors: number;
  lastError: string | null;
}

interface Client {
  res: ServerResponse;
  filter: string;
  device: string | undefined;
  /** The track last sent from, and the sequence number of its next point. */
  track: DeviceTrack | undefined;
  next: number;
}

/**
 * The live view's HTTP side, beside /metrics on the same server:
 * /view (the page), /view/events (server-sent events: `fleet` every tick,
 * `device` with a device's whole ring when one is chosen, then `points` with
 * what is new), /view/api/fleet and /view/api/device?id= (the same as JSON).
 * Nothing is computed while no page is open.
 */
export class ViewServer {
  readonly #view: FleetView;
  readonly #tickMs: number;
  readonly #clients = new Set<Client>();
  #timer: NodeJS.Timeout | undefined;

  constructor(view: FleetView, tickMs = 1000) {
    this.#view = view;
    this.#tickMs = tickMs;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Serves the request when its path is the view's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://view');
    const path = url.pathname;
    if (path !== '/view' && path !== '/view/' && !path.startsWith('/view/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end('method not allowed\n');
      return true;
    }
    const filter = (url.searchParams.get('q') ?? '').slice(0, MAX_FILTER);
    const device = url.searchParams.get('device') ?? url.searchParams.get('id') ?? undefined;
    switch (path) {
      case '/view':
      case '/view/':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:" }).end(livePage());
        return true;
      case '/view/events':
        this.#open(req, res, filter, device);
        return true;
      case '/view/api/fleet':
        return json(res, 200, this.#view.summary(filter));
      case '/view/api/device': {
        const t = device === undefined ? undefined : this.#view.get(device);
        if (t === undefined) return json(res, 404, { error: 'no such device in the view', field: 'id', found: device ?? null });
        return json(res, 200, this.#update(t, 0));
      }
      default:
        res.writeHead(404).end('not found: try /view\n');
        return true;
    }
  }

  /** Ends every event stream (the server is closing). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
  }

  #open(req: IncomingMessage, res: ServerResponse, filter: string, device: string | undefined): void {
    if (this.#clients.size >= MAX_VIEW_CLIENTS) {
      res.writeHead(503, { 'retry-after': '10' }).end(`too many live views open (at most ${MAX_VIEW_CLIENTS})\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n\n`);
    const c: Client = { res, filter, device, track: undefined, next: 0 };
    this.#clients.add(c);
    req.on('close', () => {
      this.#clients.delete(c);
      if (this.#clients.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
    this.#send(c, new Map());
    this.#timer ??= setInterval(() => this.tick(), this.#tickMs);
    this.#timer.unref?.();
  }

  /** One round of updates to every open page (the timer's; public for tests). */
  tick(): void {
    const fleetEvents = new Map<string, string>();
    for (const c of this.#clients) if (c.res.writableLength < SLOW_CLIENT_BYTES) this.#send(c, fleetEvents);
  }

  /** `fleetEvents`: the tick's fleet event per filter, computed and serialized once for all pages with that filter. */
  #send(c: Client, fleetEvents: Map<string, string>): void {
    let out = fleetEvents.get(c.filter);
    if (out === undefined) {
      out = event('fleet', this.#view.summary(c.filter));
      fleetEvents.set(c.filter, out);
    }
    if (c.device !== undefined) {
      const t = this.#view.get(c.device);
      if (t !== undefined && (t !== c.track || t.n > c.next)) {
        const whole = t !== c.track || c.next < t.n - t.points;
        out += event(whole ? 'device' : 'points', this.#update(t, whole ? 0 : c.next));
        c.track = t;
        c.next = t.n;
      }
    }
    c.res.write(out);
  }

  #update(t: DeviceTrack, since: number): DeviceUpdate {
    return { device: t.device, targets: this.#view.targets, points: t.pointsSince(since), episodes: t.allEpisodes(), forecast: t.forecast, errors: t.errors, lastError: t.lastError };
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function json(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(body));
  return true;
}
