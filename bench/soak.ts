// On-demand soak (not part of `npm run bench`): `npx tsx bench/soak.ts [minutes]` (default 30; SOAK_WINDOW_SECONDS, SOAK_CONCURRENCY); writes bench/results/soak-<date>.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { runSoak, soakMarkdown } from './lib/soak-run.js';

const minutes = Number(process.argv[2] ?? process.env.SOAK_MINUTES ?? 30);
const windowSeconds = Number(process.env.SOAK_WINDOW_SECONDS ?? (minutes >= 10 ? 300 : 10));
const durationMs = minutes * 60_000;
const report = await runSoak({
  durationMs,
  windowMs: windowSeconds * 1000,
  // Sessions and tokens live 5 minutes (30 s in a short run); what they leave behind (consumed refresh tokens, grants,
  // bindings) lives as long again: two lifetimes, or a fifth of a short run, are the warm-up.
  warmupMs: minutes >= 20 ? 600_000 : minutes >= 10 ? 300_000 : durationMs / 5,
  lifetimeSeconds: minutes >= 10 ? 300 : 30,
  concurrency: Number(process.env.SOAK_CONCURRENCY ?? 4),
  log: (line) => console.log(line),
});
const markdown = soakMarkdown(report);
console.log(`\n${markdown}`);
mkdirSync('bench/results', { recursive: true });
const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
writeFileSync(`bench/results/soak-${stamp}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`bench/results/soak-${stamp}.md`, `${markdown}\n`);
console.log(`\nwrote bench/results/soak-${stamp}.json and .md`);
