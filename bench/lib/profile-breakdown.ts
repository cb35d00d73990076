// Splits the main-thread time of V8 CPU profiles (BENCH_CPU_PROF windows) into causes, in ms per operation: self time by module
// (builtins charged to their caller's module), and the src/ frame nearest each sample.
// Usage: npx tsx bench/lib/profile-breakdown.ts <operations per window>[:<measured CPU ms per operation>] <file.cpuprofile>...
// The profiler samples wall time, so on a loaded machine "busy" includes time the thread waited for a core: with the
// measured CPU (from /proc) given, a third column scales each share to it.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self-time causes, first match wins; `url` is the script URL, `fn` the function name (builtins have no URL). */
const CAUSES: Array<[string, (url: string, fn: string) => boolean]> = [
  ['GC', (_u, fn) => fn === '(garbage collector)'],
  ['native, no JS frame ((program))', (_u, fn) => fn === '(program)'],
  ['JSON parse/stringify', (u, fn) => u === '' && /^(parse|stringify)$/.test(fn)],
  ['src/ (our code)', (u) => /\/src\//.test(u) && !u.includes('node_modules')],
  ['oidc-provider', (u) => u.includes('node_modules/oidc-provider/')],
  ['jose', (u) => u.includes('node_modules/jose/')],
  ['ioredis + redis-parser', (u) => /node_modules\/(ioredis|redis-parser|@ioredis)\//.test(u)],
  ['koa + middleware', (u) => /node_modules\/(koa[^/]*|@koa\/[^/]+|koa-compose|http-errors|statuses|cookies|keygrip|raw-body|co-body|accepts|negotiator|type-is|content-type|mime-types|depd|on-finished|destroy|delegates|only|vary|encodeurl|escape-html|parseurl|fresh|content-disposition)\//.test(u)],
  ['pino', (u) => /node_modules\/(pino[^/]*|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify)\//.test(u)],
  ['undici (fetch)', (u) => u.includes('undici')],
  ['lru-cache / quick-lru', (u) => /node_modules\/(lru-cache|quick-lru)\//.test(u)],
  ['other node_modules', (u) => u.includes('node_modules/')],
  ['node:crypto', (u) => u.startsWith('node:internal/crypto')],
  ['node:fs (log and audit line writes)', (u) => u === 'node:fs' || u.startsWith('node:internal/fs')],
  ['node:http/net/stream', (u) => /^node:(internal\/)?(http|_http|net|stream|streams|timers|events|url|querystring|buffer|internal\/(http|_http|net|stream|streams|timers|event_target|url|querystring|buffer|async_hooks|process\/task_queues))/.test(u)],
  ['other node:', (u) => u.startsWith('node:')],
  ['other', () => true],
];

const [perArg, ...files] = process.argv.slice(2);
const [operations, measuredMs] = (perArg ?? '').split(':').map(Number) as [number, number | undefined];
if (!(operations > 0) || files.length === 0) {
  process.stderr.write('usage: profile-breakdown.ts <operations per window> <file.cpuprofile>...\n');
  process.exit(2);
}

const selfMs = new Map<string, number>();
const nearestSrcMs = new Map<string, number>();
let busyMs = 0;
let profilerMs = 0;
const add = (map: Map<string, number>, key: string, ms: number) => map.set(key, (map.get(key) ?? 0) + ms);

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const srcCache = new Map<number, string>();
  const profilerCache = new Map<number, boolean>();
  /** Samples under the profiler's own start call (node:inspector's native dispatch): time before the first real sample, not the server's. */
  const inProfiler = (id: number): boolean => {
    let known = profilerCache.get(id);
    if (known === undefined) {
      const parentId = parent.get(id);
      known = byId.get(id)!.callFrame.url.endsWith('window-profiler.ts') || (parentId !== undefined && inProfiler(parentId));
      profilerCache.set(id, known);
    }
    return known;
  };
  /** The nearest enclosing frame in src/ (file:function), or the module of the outermost frame when no src/ frame is on the stack. */
  const nearestSrc = (id: number): string => {
    const cached = srcCache.get(id);
    if (cached) return cached;
    let at: number | undefined = id;
    let outermost = '';
    let found = '';
    while (at !== undefined) {
      const { url, functionName } = byId.get(at)!.callFrame;
      if (/\/src\//.test(url) && !url.includes('node_modules')) {
        found = `${url.replace(/^.*\/src\//, 'src/')} ${functionName || '(anonymous)'}`;
        break;
      }
      if (url) outermost = url.replace(/^.*node_modules\//, '').replace(/^(@[^/]+\/[^/]+|[^/]+)\/.*$/, '$1 (no src/ frame)');
      at = parent.get(at);
    }
    const key = found || outermost || '(no JS frame)';
    srcCache.set(id, key);
    return key;
  };
  /** A builtin without a script URL (a native write, a crypto job, a regexp) is charged to its nearest caller that has one. */
  const cause = (id: number, url: string, functionName: string): string => {
    let at: number | undefined = id;
    let frame = { url, functionName };
    while (frame.url === '' && !['(garbage collector)', '(program)', 'parse', 'stringify'].includes(frame.functionName) && (at = parent.get(at!)) !== undefined) {
      frame = byId.get(at)!.callFrame;
      if (frame.functionName === '(root)') break;
    }
    return CAUSES.find(([, test]) => test(frame.url, frame.functionName))![0];
  };
  profile.samples.forEach((id, i) => {
    const { url, functionName } = byId.get(id)!.callFrame;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (functionName === '(idle)') return;
    if (inProfiler(id)) {
      profilerMs += ms;
      return;
    }
    busyMs += ms;
    add(selfMs, cause(id, url, functionName), ms);
    if (functionName !== '(garbage collector)' && functionName !== '(program)') add(nearestSrcMs, nearestSrc(id), ms);
  });
}

const total = operations * files.length;
const table = (title: string, map: Map<string, number>, limit: number) => {
  const scaled = measuredMs ? ' | share × measured CPU, ms |' : ' |';
  process.stdout.write(`\n| ${title} | sampled ms per operation | share of busy${scaled}\n|---|---:|---:|${measuredMs ? '---:|' : ''}\n`);
  for (const [key, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    const share = ms / busyMs;
    process.stdout.write(`| ${key} | ${(ms / total).toFixed(3)} | ${(100 * share).toFixed(1)}%${measuredMs ? ` | ${(share * measuredMs).toFixed(2)} |` : ' |'}\n`);
  }
};
process.stdout.write(`${files.length} window(s), ${operations} operations each: main thread busy ${(busyMs / total).toFixed(3)} ms per operation (left out: ${(profilerMs / total).toFixed(3)} ms under the profiler's own start call)\n`);
table('self time by module', selfMs, CAUSES.length);
table('nearest src/ frame (self + callees, GC and (program) excluded)', nearestSrcMs, 30);
