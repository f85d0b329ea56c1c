/**
 * Builds what runs in a browser (`npm run build` runs it after tsc): the ESM bundle of the
 * portable core, `dist/browser/transformer-lrp.js` (the package's `browser` export), and the
 * explorer page, `dist/browser/explorer/` (index.html, explorer.css, explorer.js), which
 * imports the core from `../transformer-lrp.js` rather than carrying its own copy.
 *
 * `node dist/scripts/build-browser.js [OUT_DIR]` prints each file's size.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { build, type Plugin } from 'esbuild';

/** The checkout's root (beside package.json), from the sources or from dist/scripts. */
function checkoutRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('build-browser: cannot find package.json above this script');
    dir = up;
  }
  return dir;
}

/** The core bundle's file name, beside the explorer's folder. */
export const CORE_BUNDLE = 'transformer-lrp.js';

/** The built files and their sizes in bytes. */
export interface BrowserBuild {
  outDir: string;
  files: { path: string; bytes: number }[];
}

/** The explorer's imports of the core entry point become imports of the core bundle. */
function coreAsExternal(coreEntry: string): Plugin {
  return {
    name: 'core-as-external',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/index\.js$/ }, (args) =>
        resolve(args.resolveDir, '../index.ts') === coreEntry ? { path: `../${CORE_BUNDLE}`, external: true } : undefined,
      );
    },
  };
}

/** Builds the core bundle and the explorer into `outDir` (default `dist/browser`). */
export async function buildBrowser(outDir?: string): Promise<BrowserBuild> {
  const root = checkoutRoot();
  const out = outDir ?? join(root, 'dist', 'browser');
  const coreEntry = join(root, 'index.ts');
  const common = {
    bundle: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: 'es2022',
    minify: true,
    legalComments: 'eof' as const,
    logLevel: 'warning' as const,
  };
  await build({ ...common, entryPoints: [coreEntry], outfile: join(out, CORE_BUNDLE) });
  await build({ ...common, entryPoints: [join(root, 'explorer', 'main.ts')], outfile: join(out, 'explorer', 'explorer.js'), plugins: [coreAsExternal(coreEntry)] });
  await mkdir(join(out, 'explorer'), { recursive: true });
  for (const name of ['index.html', 'explorer.css']) await copyFile(join(root, 'explorer', name), join(out, 'explorer', name));
  const files: BrowserBuild['files'] = [];
  for (const rel of [CORE_BUNDLE, 'explorer/explorer.js', 'explorer/explorer.css', 'explorer/index.html']) {
    files.push({ path: join(out, rel), bytes: (await stat(join(out, rel))).size });
  }
  return { outDir: out, files };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await buildBrowser(process.argv[2]);
  for (const f of result.files) console.log(`${f.path}: ${(f.bytes / 1024).toFixed(1)} KiB`);
}
