// Transpiles src/ and bench/ to plain JavaScript in a temporary tree, so a server child can run as deployed (node, no tsx).
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * One file in, one file out (no bundling), so the module graph, `import.meta.url` and lazy imports are those of a
 * `tsc` build; node_modules, views and schemas are linked, not copied. Returns the tree's root; `remove()` deletes it.
 */
export async function compiledTree(): Promise<{ root: string; remove(): void }> {
  const root = mkdtempSync(join(tmpdir(), 'vestibule-bench-js-'));
  const entryPoints = [...typeScriptFiles(join(ROOT, 'src')), ...typeScriptFiles(join(ROOT, 'bench'))];
  await build({ entryPoints, outdir: root, outbase: ROOT, format: 'esm', platform: 'node', target: 'node20', bundle: false, sourcemap: false, logLevel: 'error' });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const linked of ['node_modules', 'views', 'schemas']) symlinkSync(join(ROOT, linked), join(root, linked));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** The compiled counterpart of a .ts file of this repository inside `root`. */
export function compiledPath(root: string, tsFile: string): string {
  return join(root, relative(ROOT, tsFile).replace(/\.ts$/, '.js'));
}
