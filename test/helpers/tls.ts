// A throw-away test CA and server certificate (openssl) for https servers on loopback, trusted only by the test that asks.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM of the CA that signed the certificate: pass it as the trusted CA. */
  ca: string;
  key: string;
  cert: string;
}

/** A certificate for the given DNS names (and 127.0.0.1), signed by a fresh CA valid for a day. */
export function testCertificate(names: readonly string[]): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'vestibule-tls-'));
  const run = (...args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  try {
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=vestibule-test-ca');
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${names[0] ?? 'localhost'}`);
    writeFileSync(join(dir, 'ext'), `subjectAltName=${[...names.map((name) => `DNS:${name}`), 'IP:127.0.0.1'].join(',')}\n`);
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext');
    return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.crt'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
