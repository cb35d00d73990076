// Prints the self-time share of the code whose script URL matches a pattern in V8 CPU profiles (BENCH_CPU_PROF windows).
// Usage: npx tsx bench/lib/profile-share.ts '/prom-client|/observability/' /tmp/prof/window-<pid>-*.cpuprofile
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [pattern, ...files] = process.argv.slice(2);
if (!pattern || files.length === 0) {
  process.stderr.write('usage: profile-share.ts <url regexp> <file.cpuprofile>...\n');
  process.exit(2);
}
const matches = new RegExp(pattern);
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  let busy = 0;
  let matched = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const delta = profile.timeDeltas[i] ?? 0;
    if (frame.functionName === '(idle)') return;
    busy += delta;
    if (matches.test(frame.url)) matched += delta;
  });
  // Main-thread JavaScript only: work on libuv threads (argon2id) and in native code without a script URL is not attributed.
  process.stdout.write(`${file}: main thread busy ${(busy / 1000).toFixed(0)} ms, matching self time ${(matched / 1000).toFixed(1)} ms = ${((100 * matched) / busy).toFixed(2)}%\n`);
}
