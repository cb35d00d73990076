// Watches the configuration file and the providers directory (WATCH_CONFIG) and calls back once a burst of changes settles.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** Quiet time after the last change before reloading: an editor's save, or a Kubernetes ConfigMap update, is several events. */
export const WATCH_DEBOUNCE_MS = 500;

/** Kubernetes updates a mounted ConfigMap by swapping the `..data` symlink: the file's own name never shows in the event. */
const CONFIGMAP_SWAP = '..data';

export interface WatchOptions {
  configFile: string;
  providersDir: string;
  onChange: () => void;
  onError: (error: Error, path: string) => void;
  debounceMs?: number;
}

/** Starts watching; the returned function stops. A directory that cannot be watched is reported and skipped. */
export function watchConfigFiles(options: WatchOptions): () => void {
  const configFile = resolve(options.configFile);
  const providersDir = resolve(options.providersDir);
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(options.onChange, options.debounceMs ?? WATCH_DEBOUNCE_MS);
  };
  // Directories are watched, not files: an editor or a ConfigMap replaces the file, and a watch on the old inode goes quiet.
  const relevant = new Map<string, (name: string) => boolean>();
  const add = (dir: string, test: (name: string) => boolean) => {
    const previous = relevant.get(dir);
    relevant.set(dir, previous ? (name) => previous(name) || test(name) : test);
  };
  add(dirname(configFile), (name) => name === basename(configFile));
  add(providersDir, (name) => name.endsWith('.json'));
  const watchers: FSWatcher[] = [];
  for (const [dir, test] of relevant) {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || name === CONFIGMAP_SWAP || test(String(name))) changed();
      });
      watcher.on('error', (error) => options.onError(error, dir));
      watchers.push(watcher);
    } catch (error) {
      options.onError(error as Error, dir);
    }
  }
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
