import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { startLocalStack } from '../../local/stack';
import { freePort } from '../support/tools';
import { describeWithAutoScaler, until } from './support';

/**
 * `npm start -- --aws-endpoint URL` listens on its port first and then spends
 * seconds provisioning against the endpoint. A request in that window must be
 * answered at once (503 "starting"), not left open until the client gives up.
 * The endpoint here is a server that holds every request, so the stack stays
 * "starting" for as long as the test needs; then it drops them and the start
 * fails, which must free the port.
 */
describeWithAutoScaler('local stack while it starts', () => {
  let endpoint: Server;
  let endpointUrl: string;
  const held: IncomingMessage[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    endpoint = createServer((request) => void held.push(request));
    endpoint.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    endpointUrl = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
  });

  it('answers /api/state with 503 "starting" within a second while --aws-endpoint provisions, and frees the port when the start fails', async () => {
    const port = await freePort();
    const starting = startLocalStack({ port, awsEndpoint: endpointUrl, logLevel: 'SILENT' });
    const outcome = starting.then(
      () => 'started',
      (error: Error) => error.message,
    );
    // The stack has reached its endpoint: it listens and is blocked on the first AWS call.
    await until(() => held.length > 0, 'the first AWS request at the endpoint', 20000);

    const startedAt = Date.now();
    const response = await fetch(`http://127.0.0.1:${port}/api/state`, { signal: AbortSignal.timeout(3000) });
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toEqual({ status: 'starting', message: expect.stringContaining('starting') });
    // Every other path too: nothing is routed before the stack is ready.
    expect((await fetch(`http://127.0.0.1:${port}/webhook`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(3000) })).status).toBe(503);

    // The endpoint fails every call from now on: the start gives up and closes what it opened.
    endpoint.removeAllListeners('request');
    endpoint.on('request', (request: IncomingMessage) => request.socket.destroy());
    for (const request of held) request.socket.destroy();
    expect(await outcome).not.toBe('started');
    await expect(fetch(`http://127.0.0.1:${port}/api/state`, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
  }, 60000);
});
