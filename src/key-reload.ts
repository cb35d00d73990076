// Rebuilds the running app when the store's signing keys change (oidc-provider takes its JWKS at construction), as SIGHUP does for the configuration.
import type { Logger } from 'pino';
import { buildApp, type AppDeps } from './app.js';
import { signingKeyStore } from './issuer/keys.js';
import { watchSigningKeys, type KeyWatch } from './issuer/key-watch.js';
import type { Running } from './reload.js';
import type { KeyValueStore } from './store/store.js';

export interface KeyReloadDeps {
  store: KeyValueStore;
  logger: Logger;
  now?: () => number;
  /** Further dependencies every rebuilt app gets (tests: audit sinks, no sweep timer). */
  appDeps?: Pick<AppDeps, 'auditSinks' | 'sweep'>;
  /** The app serving requests now. */
  current(): Running;
  /** Puts a rebuilt app in front of new requests; resolves once the previous app has answered the requests it took (it is closed here then). */
  swap(next: Running): Promise<void> | void;
}

/** Watches the store's signing keys for the running configuration; a jwksFile deployment is left alone (rotate by editing the file, then SIGHUP). */
export function reloadOnKeyChange(deps: KeyReloadDeps): Promise<KeyWatch> {
  const now = deps.now ?? Date.now;
  const { config } = deps.current();
  return watchSigningKeys({
    keyStore: signingKeyStore(config, deps.store, now),
    store: deps.store,
    logger: deps.logger,
    now,
    rotateEveryMs: config.keys.rotateEverySeconds === undefined ? undefined : config.keys.rotateEverySeconds * 1000,
    audit: (event) => deps.current().broker.broker.auditor.record(event),
    serving: () => (deps.current().config.jwksFile ? undefined : deps.current().broker.keysFingerprint),
    async refresh() {
      const old = deps.current();
      const broker = await buildApp(old.config, { ...deps.appDeps, logger: deps.logger, store: deps.store, now: deps.now, metrics: old.broker.metrics });
      // A configuration reload swapped in meanwhile: its app loaded the keys itself; this one is not needed.
      if (deps.current() !== old) return broker.close();
      await deps.swap({ config: old.config, broker });
      await old.broker.close();
    },
  });
}
