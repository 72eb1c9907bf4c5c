import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { Aedes, type AuthenticateError } from 'aedes';

/** The broker the service talks to when no --broker was given. */
export interface EmbeddedBroker {
  url: string;
  /** False when another broker already listened on the port and is used instead. */
  ours: boolean;
  port: number;
  /** With authentication on: the service's own credentials on it (made at start, never written anywhere). */
  credentials?: { username: string; password: string };
  close(): Promise<void>;
}

/** Who may connect to the embedded broker: user name -> SHA-256 of the password (from --embedded-users). */
export type EmbeddedUsers = ReadonlyMap<string, Buffer>;

/**
 * Starts Aedes on host:port. A gateway often runs Mosquitto on 1883 already:
 * then that broker is used (EADDRINUSE is not an error) and `ours` is false.
 * Port 0 picks a free port (tests). With `users`, every client must give a
 * listed user name and its password (CONNACK "bad user name or password"
 * otherwise); the service itself connects with credentials made here.
 */
export async function startEmbeddedBroker(port: number, host = '127.0.0.1', users?: EmbeddedUsers): Promise<EmbeddedBroker> {
  let credentials: EmbeddedBroker['credentials'];
  const opts: Parameters<typeof Aedes.createBroker>[0] = {};
  if (users !== undefined) {
    credentials = { username: `edgelstm-service-${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('base64url') };
    const all = new Map(users);
    all.set(credentials.username, sha256(credentials.password));
    opts.authenticate = (_client, username, password, done) => {
      const want = username === undefined ? undefined : all.get(username);
      // Compared as digests of equal length, in constant time.
      if (want !== undefined && password !== undefined && timingSafeEqual(want, sha256(password))) return done(null, true);
      const err = new Error('bad user name or password') as AuthenticateError;
      (err as { returnCode: number }).returnCode = 4;
      done(err, false);
    };
  }
  const aedes = await Aedes.createBroker(opts);
  const server: Server = createServer(aedes.handle);
  try {
    server.listen(port, host);
    await once(server, 'listening');
  } catch (e) {
    await new Promise<void>((r) => aedes.close(() => r()));
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      return { url: `mqtt://${urlHost(host)}:${port}`, ours: false, port, close: async () => undefined };
    }
    throw e;
  }
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `mqtt://${urlHost(host)}:${bound}`,
    ours: true,
    port: bound,
    ...(credentials !== undefined && { credentials }),
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Reads --embedded-users: one `name:password` a line (blank lines and `#` comments skipped). Keep the file
 * 0600; only the passwords' SHA-256 stays in memory. Throws a message naming the line.
 */
export function parseEmbeddedUsers(text: string): Map<string, Buffer> {
  const users = new Map<string, Buffer>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.indexOf(':');
    if (at <= 0 || at === line.length - 1) throw new Error(`line ${i + 1}: expected name:password`);
    users.set(line.slice(0, at), sha256(line.slice(at + 1)));
  });
  if (users.size === 0) throw new Error('no name:password line');
  return users;
}

function sha256(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The host as a URL needs it (an IPv6 address in brackets); 0.0.0.0 and :: as the loopback the service connects to. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
