import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { Aedes } from 'aedes';

/** The broker the service talks to when no --broker was given. */
export interface EmbeddedBroker {
  url: string;
  /** False when another broker already listened on the port and is used instead. */
  ours: boolean;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts Aedes on host:port. A gateway often runs Mosquitto on 1883 already:
 * then that broker is used (EADDRINUSE is not an error) and `ours` is false.
 * Port 0 picks a free port (tests).
 */
export async function startEmbeddedBroker(port: number, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  try {
    server.listen(port, host);
    await once(server, 'listening');
  } catch (e) {
    await new Promise<void>((r) => aedes.close(() => r()));
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      return { url: `mqtt://${host}:${port}`, ours: false, port, close: async () => undefined };
    }
    throw e;
  }
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `mqtt://${host}:${bound}`,
    ours: true,
    port: bound,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
