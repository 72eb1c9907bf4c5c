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
 * edgelstm-model config node can swap. Uploads go through the runtime's
 * model acquisition module: with `edgelstm: { publicKey: PEM }` in
 * settings.js the signature over the announced SHA-256 is checked before the
 * body is read; without a key uploads are refused unless settings.js says
 * `edgelstm: { allowUnsignedModels: true }` (warned at start). The body is
 * read under `maxModelBytes` (256 MiB) and a timeout, and must be sent as
 * application/octet-stream (or with no Content-Type): any other type is
 * refused with 415 before the body is read, including the bodies Node-RED's
 * own JSON and form parsers fail on before the route runs (their HTML error
 * page with a stack trace is replaced for this route).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { acquireUpload, AcquireError, modelSha256, policyWarnings, publicReason, resolveAcquirePolicy, writeFileAtomic } from '../../runtime';

type Handler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
type ErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
interface ExpressLikeResponse extends ServerResponse {
  status(code: number): ExpressLikeResponse;
  json(body: unknown): void;
}
interface AdminApp {
  get(path: string, ...h: Handler[]): void;
  post(path: string, ...h: Handler[]): void;
  delete(path: string, ...h: Handler[]): void;
  use(path: string, h: ErrorHandler): void;
  /** The app this one is mounted in (Express sets it on mount): Node-RED's editor API, whose body parsers run first. */
  parent?: AdminApp;
}
/** The part of Node-RED's RED object this file uses. */
interface NodeRedApi {
  httpAdmin: AdminApp;
  auth: { needsPermission(permission: string): Handler };
  settings: { userDir?: string; edgelstm?: { publicKey?: string; maxModelBytes?: number; allowUnsignedModels?: boolean; uploadTimeoutMs?: number } };
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

function readBody(req: IncomingMessage & { body?: unknown }, limit: number, timeoutMs: number): Promise<Buffer> {
  // A body parser upstream may already have read it (it would be a Buffer for raw types only).
  if (Buffer.isBuffer(req.body)) {
    if (req.body.length > limit) return Promise.reject(Object.assign(new Error(`model larger than ${limit} bytes`), { status: 413 }));
    return Promise.resolve(req.body);
  }
  // A JSON or form parser consumed the stream: waiting for data would wait forever.
  if (req.body !== undefined && (req.readableEnded || (typeof req.body === 'object' && req.body !== null && Object.keys(req.body).length > 0))) {
    return Promise.reject(Object.assign(new Error('send the model as application/octet-stream'), { status: 415 }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`upload not complete within ${timeoutMs} ms`), { status: 408 }));
      req.destroy();
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        clearTimeout(timer);
        reject(Object.assign(new Error(`model larger than ${limit} bytes`), { status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The media type of the request (`application/json` of `application/json; charset=utf-8`), '' when none was sent. */
function mediaType(req: IncomingMessage): string {
  return (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Why a body of this type is refused: it names what was sent and what to send. */
function wrongType(type: string): string {
  return `Content-Type ${type.slice(0, 100)} refused: send the model file's bytes as application/octet-stream (curl: -H 'Content-Type: application/octet-stream' --data-binary @model.onnx)`;
}

export = function edgelstmAdmin(RED: NodeRedApi): void {
  const root = join(RED.settings.userDir ?? '.', 'edgelstm');
  const models = join(root, 'models');
  const currentFile = join(root, 'current.json');
  const cfg = RED.settings.edgelstm ?? {};
  const policy = resolveAcquirePolicy({
    ...(cfg.publicKey ? { publicKeyPem: cfg.publicKey } : {}),
    allowUnsigned: cfg.allowUnsignedModels === true,
    ...(cfg.maxModelBytes !== undefined ? { maxBytes: cfg.maxModelBytes } : {}),
    ...(cfg.uploadTimeoutMs !== undefined ? { timeoutMs: cfg.uploadTimeoutMs } : {}),
  });
  for (const w of policyWarnings(policy)) RED.log.warn(`edgelstm: ${w.replace('--allow-unsigned-models', 'settings edgelstm.allowUnsignedModels').replace('--model-public-key', 'settings edgelstm.publicKey')}`);

  const readCurrent = (): Current | undefined => {
    try {
      return JSON.parse(readFileSync(currentFile, 'utf8')) as Current;
    } catch {
      return undefined;
    }
  };
  const writeCurrent = (c: Current | null): void => {
    mkdirSync(root, { recursive: true });
    writeFileAtomic(currentFile, JSON.stringify(c));
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
      const type = mediaType(req);
      // An empty body selects a model stored earlier (it passed the policy when it was uploaded): a rollback needs no upload.
      const parsed = (req as IncomingMessage & { body?: unknown }).body;
      if (header(req, 'content-length') === '0' || (Buffer.isBuffer(parsed) && parsed.length === 0)) {
        if (!existsSync(path)) return send(res, 404, { error: 'no stored model under that sha256; send its bytes' });
        if (modelSha256(readFileSync(path)) !== sha) return send(res, 422, { error: 'the stored model does not match its sha256' });
      } else if (type !== '' && type !== 'application/octet-stream') {
        // JSON, forms, text, multipart: never the model's bytes as they are (a parser may have consumed or changed them).
        return send(res, 415, { error: wrongType(type) });
      } else {
        let bytes: Uint8Array;
        try {
          // The signature over the announced hash is checked before a byte of the body is read.
          ({ bytes } = await acquireUpload(sha, header(req, 'x-edgelstm-signature'), (max, ms) => readBody(req, max, ms), policy));
        } catch (e) {
          if (e instanceof AcquireError) {
            RED.log.warn(`edgelstm: upload ${sha.slice(0, 12)} refused: ${e.message}`);
            return send(res, 422, { error: publicReason(e) });
          }
          throw e;
        }
        mkdirSync(models, { recursive: true });
        writeFileAtomic(path, bytes, { mode: 0o600 });
        const v = header(req, 'x-edgelstm-version');
        if (v) writeFileAtomic(`${path}.version`, v.slice(0, 64));
      }
      const version = header(req, 'x-edgelstm-version') ?? (existsSync(`${path}.version`) ? readFileSync(`${path}.version`, 'utf8') : undefined);
      writeCurrent({ sha256: sha, ...(version ? { model: version } : {}), path, ts: Date.now() });
      send(res, 200, { sha256: sha, model: version });
    })().catch((e: unknown) => send(res, (e as { status?: number }).status ?? 500, { error: (e as Error).message }));
  });

  // Node-RED's admin JSON and form parsers run before any route, in the editor API's app that RED.httpAdmin is
  // mounted in: a model sent as application/json fails there (not JSON, or over the admin API's body limit) and
  // never reaches this app, and Express would answer with an HTML page and a stack trace. The error handler goes
  // where the error is.
  (RED.httpAdmin.parent ?? RED.httpAdmin).use('/edgelstm/model', (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const type = mediaType(req);
    if (type === '' || type === 'application/octet-stream') return next(err);
    send(res, 415, { error: wrongType(type) });
  });
};
