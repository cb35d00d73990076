// The SAML worker pool: verification results cross the thread boundary as data, a full queue answers saml_busy, a dead worker fails its job and is replaced.
import { afterEach, describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { ConnectorError } from '../../src/connectors/connector.js';
import { SamlWorkerPool, type VerifyOptions } from '../../src/connectors/saml-worker-pool.js';
import { toTrustedCert } from '../../src/connectors/saml-signature.js';
import { IDP_CERT, SP_KEY } from '../helpers/upstream-saml.js';
import { makeConnector, solicitedResponse } from './saml-setup.js';

let pool: SamlWorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

async function fixture() {
  const env = await makeConnector();
  const { xml, requestId } = await solicitedResponse(env);
  const options: VerifyOptions = {
    idpEntityId: env.idp.entityId,
    certs: [toTrustedCert(IDP_CERT)],
    spEntityId: env.spEntityId,
    acsUrl: env.acsUrl,
    expectedRequestId: requestId,
    now: env.clock.get(),
    clockSkewMs: 120_000,
    signaturePolicy: 'assertion',
    signature: { allowSha1: false },
    requireEncryption: false,
    decryptionKeys: [SP_KEY],
  };
  await env.connector.close?.();
  return { xml, options };
}

describe('SAML worker pool', () => {
  it('returns the verified assertion as plain data and rethrows checks as ConnectorErrors with their code', async () => {
    const { xml, options } = await fixture();
    pool = new SamlWorkerPool(1);
    const verified = await pool.verify(xml, options, false);
    expect(verified).toMatchObject({ nameId: 'user-1234', signedParts: ['assertion'], encrypted: false });
    const error = await pool.verify(xml, { ...options, spEntityId: 'https://other.example' }, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'saml_audience_mismatch', status: 400 });
  });

  it('refuses work beyond its queue bound with saml_busy (503)', async () => {
    const { xml, options } = await fixture();
    pool = new SamlWorkerPool(1, { maxQueue: 1 });
    // The worker is not ready yet, so the first job waits in the queue and fills it.
    const first = pool.verify(xml, options, false);
    await expect(pool.verify(xml, options, false)).rejects.toMatchObject({ code: 'saml_busy', status: 503 });
    await expect(first).resolves.toMatchObject({ nameId: 'user-1234' });
  });

  it('fails the job of a worker that dies with saml_unavailable and serves the next job from a new worker', async () => {
    const { xml, options } = await fixture();
    pool = new SamlWorkerPool(1);
    await pool.verify(xml, options, false);
    const slots = (pool as unknown as { slots: Array<{ worker: Worker }> }).slots;
    const dying = slots[0]!.worker;
    // The worker is told to stop first and the job is posted to it before the pool hears of its exit: the job is lost
    // in the dying worker whatever the speed of a verification (posted first, a fast one finished before it died).
    const stopped = dying.terminate();
    const job = pool.verify(xml, options, false);
    await stopped;
    await expect(job).rejects.toMatchObject({ code: 'saml_unavailable', status: 503 });
    expect(slots[0]!.worker).not.toBe(dying);
    await expect(pool.verify(xml, options, false)).resolves.toMatchObject({ nameId: 'user-1234' });
  });
});
