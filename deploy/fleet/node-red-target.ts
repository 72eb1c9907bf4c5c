import type { Device } from './inventory';
import { UnreachableError, type DeviceState, type DeviceTarget, type Release } from './target';

/** JSON with object keys sorted, so two equal flow sets compare equal whatever order Node-RED keeps keys in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

interface ModelInfo {
  sha256: string | null;
  model?: string;
}

/**
 * A Node-RED instance: flows through the Admin API (`GET`/`POST /flows`,
 * bearer token), the model through the endpoint the edgelstm-admin plugin
 * adds (`GET`/`POST /edgelstm/model`).
 */
export class NodeRedTarget implements DeviceTarget {
  readonly device: Device;
  readonly #release: Release;
  readonly #timeoutMs: number;
  #before: DeviceState | undefined;
  #beforeFlows: unknown[] | undefined;
  #modelChanged = false;
  #flowsChanged = false;

  constructor(device: Device, release: Release, timeoutMs: number) {
    this.device = device;
    this.#release = release;
    this.#timeoutMs = timeoutMs;
  }

  async #call(method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}): Promise<unknown> {
    const h: Record<string, string> = { 'Node-RED-API-Version': 'v2', ...headers };
    if (this.device.token) h['Authorization'] = `Bearer ${this.device.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.device.url}${path}`, { method, headers: h, ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength) } : {}), signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code !== undefined && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(cause.code)) throw new UnreachableError(`${this.device.url} unreachable (${cause.code})`);
      throw new Error(`${method} ${path}: ${(e as Error).name === 'TimeoutError' ? `timed out after ${this.#timeoutMs} ms` : (e as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) throw new Error(`${method} ${path}: HTTP ${res.status} (check the device's token)`);
    if (res.status === 404 && path.startsWith('/edgelstm/')) throw new Error(`${method} ${path}: HTTP 404 (is the edgelstm package installed in this Node-RED?)`);
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
  }

  async read(): Promise<DeviceState> {
    try {
      return await this.#read();
    } catch (e) {
      // Nothing has been changed yet: a device that does not answer in time counts as unreachable.
      if (e instanceof Error && !(e instanceof UnreachableError) && /timed out/.test(e.message)) throw new UnreachableError(`${this.device.url} did not answer: ${e.message}`);
      throw e;
    }
  }

  async #read(): Promise<DeviceState> {
    this.#before = await this.#fetchState(true);
    return this.#before;
  }

  /** What the device holds of the release's parts; with `keepFlows`, its flows too, to compare against and restore. */
  async #fetchState(keepFlows: boolean): Promise<DeviceState> {
    const state: DeviceState = { sha256: null };
    if (this.#release.model) {
      const m = (await this.#call('GET', '/edgelstm/model')) as ModelInfo;
      state.sha256 = m.sha256;
      if (m.model) state.model = m.model;
    }
    if (this.#release.flows) {
      const f = (await this.#call('GET', '/flows')) as { rev: string; flows: unknown[] };
      state.flowsRev = f.rev;
      if (keepFlows) this.#beforeFlows = f.flows;
    }
    return state;
  }

  #flowsDiffer(): boolean {
    return this.#release.flows !== undefined && canonicalJson(this.#release.flows) !== canonicalJson(this.#beforeFlows);
  }

  #modelDiffers(): boolean {
    return this.#release.model !== undefined && this.#before?.sha256 !== this.#release.model.sha256;
  }

  upToDate(): boolean {
    return !this.#flowsDiffer() && !this.#modelDiffers();
  }

  async apply(): Promise<DeviceState> {
    const m = this.#release.model;
    // The model first: the new flows may name it.
    if (m && this.#modelDiffers()) {
      this.#modelChanged = true;
      await this.#call('POST', '/edgelstm/model', m.bytes, {
        'Content-Type': 'application/octet-stream',
        'X-Edgelstm-Sha256': m.sha256,
        'X-Edgelstm-Version': m.id,
        ...(m.signature ? { 'X-Edgelstm-Signature': m.signature } : {}),
      });
    }
    let rev: string | undefined;
    if (this.#flowsDiffer()) {
      this.#flowsChanged = true;
      rev = ((await this.#call('POST', '/flows', JSON.stringify({ flows: this.#release.flows }), { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' })) as { rev: string }).rev;
    }
    const after = await this.#fetchState(false);
    if (m && after.sha256 !== m.sha256) throw new Error(`model not in place after upload: device reports ${after.sha256}`);
    if (rev !== undefined && after.flowsRev !== rev) throw new Error(`flows not in place after deploy: rev ${after.flowsRev}, expected ${rev}`);
    return after;
  }

  async restore(): Promise<DeviceState> {
    const before = this.#before!;
    if (this.#modelChanged) {
      // The plugin keeps every model it was sent, so the old one is selected by hash, not uploaded again.
      if (before.sha256 === null) await this.#call('DELETE', '/edgelstm/model');
      else await this.#call('POST', '/edgelstm/model', '', { 'X-Edgelstm-Sha256': before.sha256 });
    }
    if (this.#flowsChanged && this.#beforeFlows) {
      await this.#call('POST', '/flows', JSON.stringify({ flows: this.#beforeFlows }), { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' });
    }
    const after = await this.#fetchState(false);
    if (this.#release.model && after.sha256 !== before.sha256) throw new Error(`model not restored: device reports ${after.sha256}`);
    if (this.#flowsChanged && canonicalJson(((await this.#call('GET', '/flows')) as { flows: unknown[] }).flows) !== canonicalJson(this.#beforeFlows)) throw new Error('flows not restored');
    return after;
  }

  async close(): Promise<void> {}
}
