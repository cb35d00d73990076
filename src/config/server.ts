// The `server` section: HTTP listener limits against slow or greedy clients, and the drain time on SIGTERM.
import { z } from 'zod';

const ms = (fallback: number, min: number, max: number, description: string) => z.number().int().min(min).max(max).default(fallback).describe(description);

export const serverSchema = z
  .strictObject({
    headersTimeoutMs: ms(20_000, 1000, 120_000, 'A connection that has not sent complete request headers this long after its request began is closed (slow-header clients).'),
    requestTimeoutMs: ms(30_000, 1000, 600_000, 'A request (headers and body) not received completely within this time is answered 408 and its connection closed (slow-body clients).'),
    keepAliveTimeoutMs: ms(5000, 100, 600_000, 'An idle keep-alive connection is closed after this long; set it above the idle timeout of the proxy in front.'),
    maxHeaderBytes: z.number().int().min(4096).max(65_536).default(16_384).describe('Largest request header block (431 beyond it).'),
    maxConnectionsPerIp: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(0)
      .describe('Open connections one TCP peer address may hold (0: no limit); beyond it new connections are closed at once. Behind a proxy every connection comes from the proxy.'),
    shutdownTimeoutMs: ms(10_000, 1000, 600_000, 'On SIGTERM: time allowed for requests in flight to finish before the process exits with status 1.'),
  })
  .refine((server) => server.headersTimeoutMs <= server.requestTimeoutMs, { path: ['headersTimeoutMs'], message: 'must not be longer than requestTimeoutMs' })
  .prefault({});

export type ServerConfig = z.output<typeof serverSchema>;
