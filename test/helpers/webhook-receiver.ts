// A webhook receiver on loopback for tests: records each delivery (headers, body, response) and answers as told.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  headers: IncomingMessage['headers'];
  body: string;
  res: ServerResponse;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedDelivery[];
  server: Server;
  close(): void;
}

/** Listens on 127.0.0.1; `answer` gives each delivery's status by its index (undefined: hold it, never answer). */
export async function webhookReceiver(answer: (index: number) => number | undefined, path = '/hook'): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = answer(received.length);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), res });
      if (status !== undefined) res.writeHead(status).end('ignored body');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received,
    server,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
