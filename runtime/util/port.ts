import { createServer } from 'node:net';
import { EdgeLstmError } from '../errors';

/**
 * Refuses a TCP port another process holds, before anything starts: E_CONFIG naming the option, the address
 * and the reason (EADDRINUSE, EACCES). Port 0 (any free port) is always free.
 */
export async function assertPortFree(host: string, port: number, option: string): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'in use by another process' : (e.code ?? e.message);
      reject(new EdgeLstmError('E_CONFIG', `option --${option}: expected a port this service can listen on, found ${host}:${port} ${why}`, { field: option, expected: 'a free port', found: `${host}:${port} (${e.code ?? e.message})` }));
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
