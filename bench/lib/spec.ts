// What a benchmark server child runs: passed from the scenario to bench/lib/server-main.ts as JSON in BENCH_SERVER_SPEC.
export type ServerSpec =
  | {
      kind: 'broker';
      jwksFile: string;
      /** argon2id hash of BENCH_USER's password (its parameters set the verify cost). */
      passwordHash: string;
      store: { type: 'memory' } | { type: 'redis'; url: string; prefix: string };
      /** Log level of the broker (default "info": one line per request, as deployed), written to /dev/null. */
      logLevel?: string;
      /** Extra provider definitions (provider file shape) next to the local one, e.g. an upstream OIDC provider. */
      providers?: unknown[];
      /** Configuration file fields over the bench defaults (e.g. `metrics`, `auditLog`). */
      config?: Record<string, unknown>;
    }
  | {
      kind: 'peer-oidc';
      jwksFile: string;
      /** argon2id hash to verify; absent = the peer compares the password without hashing. */
      passwordHash?: string;
    }
  | {
      kind: 'peer-koa';
      /** path -> JSON body, served as is by a bare Koa app. */
      bodies: Record<string, unknown>;
    };

/** First stdout line of a server child. */
export interface ReadyLine {
  ready: true;
  port: number;
  pid: number;
}
