/**
 * Admin endpoints `edgelstm deploy` uses on a Node-RED instance. No node type
 * of its own: it adds routes to the Admin API, guarded like the rest of it
 * (`adminAuth`; permissions edgelstm.read / edgelstm.write).
 *
 *   GET    /edgelstm/model   -> {"sha256": hex|null, "model": "name@version"?, "path": file?}
 *   POST   /edgelstm/model   body: model bytes; X-Edgelstm-Sha256 (required), X-Edgelstm-Version,
 *                            X-Edgelstm-Signature (base64 ed25519). Empty body: select a model
 *                            already stored under that hash (a rollback needs no upload).
 *   DELETE /edgelstm/model   no current model
 *
 * Models are kept as <userDir>/edgelstm/models/<sha256>.onnx; the current
 * one is named in <userDir>/edgelstm/current.json (atomic replace). A change
 * is announced as RED.events 'edgelstm:model' {sha256, path, model} so the
 * edgelstm-model config node can swap. With `edgelstm: { publicKey: PEM }` in
 * settings.js, unsigned and badly signed models are refused.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
interface ExpressLikeResponse extends ServerResponse {
  status(code: number): ExpressLikeResponse;
  json(body: unknown): void;
}
interface AdminApp {
  get(path: string, ...h: Handler[]): void;
  post(path: string, ...h: Handler[]): void;
  delete(path: string, ...h: Handler[]): void;
}
/** The part of Node-RED's RED object this file uses. */
interface NodeRedApi {
  httpAdmin: AdminApp;
  auth: { needsPermission(permission: string): Handler };
  settings: { userDir?: string; edgelstm?: { publicKey?: string; maxModelBytes?: number } };
  events: { emit(event: string, payload: unknown): void };
  log: { info(msg: string): void; warn(msg: string): void };
}

interface Current {
  sha256: string;
  model?: string;
  path: string;
  ts: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

function readBody(req: IncomingMessage & { body?: unknown }, limit: number): Promise<Buffer> {
  // A body parser upstream may already have read it (it would be a Buffer for raw types only).
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error(`model larger than ${limit} bytes`), { status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export = function edgelstmAdmin(RED: NodeRedApi): void {
  const root = join(RED.settings.userDir ?? '.', 'edgelstm');
  const models = join(root, 'models');
  const currentFile = join(root, 'current.json');
  const cfg = RED.settings.edgelstm ?? {};
  const publicKey = cfg.publicKey ? createPublicKey(cfg.publicKey) : undefined;
  const limit = cfg.maxModelBytes ?? 256 * 1024 * 1024;

  const readCurrent = (): Current | undefined => {
    try {
      return JSON.parse(readFileSync(currentFile, 'utf8')) as Current;
    } catch {
      return undefined;
    }
  };
  const writeCurrent = (c: Current | null): void => {
    mkdirSync(root, { recursive: true });
    const tmp = `${currentFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(c));
    renameSync(tmp, currentFile);
    RED.events.emit('edgelstm:model', c);
    RED.log.info(c ? `edgelstm: model ${c.model ?? ''} ${c.sha256.slice(0, 12)} is current` : 'edgelstm: no current model');
  };
  const send = (res: ServerResponse, code: number, body: unknown): void => {
    (res as ExpressLikeResponse).status(code).json(body);
  };

  RED.httpAdmin.get('/edgelstm/model', RED.auth.needsPermission('edgelstm.read'), (_req, res) => {
    const c = readCurrent();
    send(res, 200, c ? { sha256: c.sha256, model: c.model, path: c.path } : { sha256: null });
  });

  RED.httpAdmin.delete('/edgelstm/model', RED.auth.needsPermission('edgelstm.write'), (_req, res) => {
    writeCurrent(null);
    send(res, 200, { sha256: null });
  });

  RED.httpAdmin.post('/edgelstm/model', RED.auth.needsPermission('edgelstm.write'), (req, res) => {
    void (async () => {
      const sha = header(req, 'x-edgelstm-sha256')?.toLowerCase();
      if (!sha || !HEX64.test(sha)) return send(res, 400, { error: 'X-Edgelstm-Sha256 must be 64 hex digits' });
      const path = join(models, `${sha}.onnx`);
      const body = await readBody(req, limit);
      let bytes: Buffer;
      if (body.length === 0) {
        if (!existsSync(path)) return send(res, 404, { error: `no stored model ${sha}; send its bytes` });
        bytes = readFileSync(path);
      } else bytes = body;
      const got = createHash('sha256').update(bytes).digest('hex');
      if (got !== sha) return send(res, 422, { error: `SHA-256 does not match: header ${sha}, body ${got}` });
      if (publicKey && body.length > 0) {
        const sig = header(req, 'x-edgelstm-signature');
        if (!sig) return send(res, 422, { error: 'model is unsigned and this Node-RED requires an ed25519 signature' });
        if (!verify(null, bytes, publicKey, Buffer.from(sig, 'base64'))) return send(res, 422, { error: 'model signature does not verify against the configured public key' });
      }
      if (body.length > 0) {
        mkdirSync(models, { recursive: true });
        writeFileSync(`${path}.tmp`, bytes);
        renameSync(`${path}.tmp`, path);
        if (header(req, 'x-edgelstm-version')) writeFileSync(`${path}.version`, header(req, 'x-edgelstm-version')!);
      }
      const version = header(req, 'x-edgelstm-version') ?? (existsSync(`${path}.version`) ? readFileSync(`${path}.version`, 'utf8') : undefined);
      writeCurrent({ sha256: sha, ...(version ? { model: version } : {}), path, ts: Date.now() });
      send(res, 200, { sha256: sha, model: version });
    })().catch((e: unknown) => send(res, (e as { status?: number }).status ?? 500, { error: (e as Error).message }));
  });
};
