/**
 * `npm run build:lambda`: bundles every Lambda entry point in
 * src/runtimes/lambda/ with esbuild into `dist/lambda/<name>/index.mjs`
 * (+ `index.mjs.map`), one minified ESM entry per function and `chunks/`
 * beside it for what is loaded with `import()` (code splitting), for the
 * `nodejs24.x` runtime (handler `index.handler`). infra/ deploys each folder
 * with `lambda.Code.fromAsset`; its tests call {@link buildLambdas} with a
 * temporary `outDir`.
 *
 * Entries: every `*.ts` file of the folder except shared modules, which say
 * so with a `// @lambda-shared` line (aws-config.ts, invocation.ts). An entry
 * must export `handler`.
 *
 * Left out of the bundle:
 * - `@aws-sdk/client-*`: the nodejs24.x runtime ships AWS SDK for JavaScript v3 with
 *   every client we use (S3, Bedrock runtime, Secrets Manager, SQS, SES v2),
 *   so none of them is bundled. `@aws-sdk/rds-signer` (IAM auth tokens for
 *   RDS Proxy, DATABASE_AUTH=iam) is a library, not a client: AWS does not
 *   list it among what the runtime ships, so it is bundled, with what it
 *   imports (@aws-sdk/core, the credential providers), into a chunk loaded
 *   on the first database connection. Powertools and the X-Ray SDK are not in the
 *   runtime (they are a layer) and are bundled.
 * - `@electric-sql/*` (PGlite, WASM) and `@duckdb/*` (native): the Lambda
 *   functions run on PostgreSQL and never reach them (both are imported
 *   lazily, only on the embedded database and for lake queries); a build
 *   that would bundle them fails.
 * - `pg-native`: `pg`'s optional native driver, never enabled.
 *
 * Not deployed on Lambda: Swagger UI's files (`/docs` answers 503
 * `docs_unavailable` there; `/openapi.json` works).
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY_DIR = path.join(ROOT, 'src', 'runtimes', 'lambda');

/** Marks a module of the folder as shared (not an entry point). */
export const SHARED_MARKER = '// @lambda-shared';

/** Never in a bundle: provided by the runtime, or unreachable on Lambda (see above). */
export const EXTERNAL = ['@aws-sdk/client-*', '@electric-sql/*', '@duckdb/*', 'pg-native'];

/**
 * Files a function reads at run time besides its code, copied where the
 * bundled modules look for them: the dashboard's page and assets (`./public/`
 * of dashboard.routes.ts, so `public/` beside the output file that holds that
 * module: a chunk, since the dashboard's routes are loaded on first use) and
 * Chart.js's UMD build (found with `require.resolve('chart.js')`, so the
 * package's manifest, its main entry and the UMD file, in the function's
 * `node_modules/`, which Node finds from any chunk); the same for the files
 * of the `/docs` page (swagger-ui-dist's manifest, licence, CSS and bundle).
 */
const RUNTIME_FILES: Record<string, { from: string; to: string; besideModule?: string }[]> = {
  api: [
    { from: 'src/features/dashboard/public', to: 'public', besideModule: 'src/features/dashboard/dashboard.routes.ts' },
    ...['package.json', 'LICENSE.md', 'dist/chart.cjs', 'dist/chart.umd.min.js'].map((f) => ({ from: `node_modules/chart.js/${f}`, to: `node_modules/chart.js/${f}` })),
    // The /docs page's files (http/docs.ts finds the package with require.resolve, as on the Node server).
    ...['package.json', 'LICENSE', 'NOTICE', 'swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'].map((f) => ({ from: `node_modules/swagger-ui-dist/${f}`, to: `node_modules/swagger-ui-dist/${f}` })),
  ],
};

/**
 * Zod's error messages in every language it ships (`z.locales`, ~260 KB of
 * the bundle, compiled at every cold start): kidslearn uses only the English
 * messages Zod installs by default, so in a Lambda bundle `z.locales` holds
 * `en` alone.
 */
const zodEnglishOnly: esbuild.Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: path.join(path.dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-locales' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};\n`,
      resolveDir: path.dirname(args.path),
    }));
  },
};

/** One built function. */
export interface BuiltLambda {
  name: string;
  /** `<outDir>/<name>/index.mjs` */
  file: string;
  /** All of its code: `index.mjs` and its chunks (`chunks/*.mjs`, loaded on first `import()`). */
  bytes: number;
  /** `index.mjs` alone. */
  entryBytes: number;
  /** What an execution environment reads and compiles at init: `index.mjs`, the chunks it imports, statically or with its own `import()` (the rest wait for the `import()` of a request that needs them). */
  initBytes: number;
  /** The code files (absolute paths): `index.mjs` and every chunk. */
  files: string[];
  /** The code files loaded at init (see `initBytes`). */
  initFiles: string[];
  /** The packages bundled into it, by bytes in the output (from esbuild's metafile). */
  packages: Record<string, number>;
  /** The same for the code loaded at init alone (`initBytes`); our own modules by `src/<folder>`. */
  initSources: Record<string, number>;
}

/** The Lambda entry points: file names (`api.ts`, `migrate.ts`, ...) of src/runtimes/lambda/ that are not shared modules. */
export function lambdaEntries(dir: string = ENTRY_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .filter((f) => !readFileSync(path.join(dir, f), 'utf8').split('\n', 5).some((line) => line.startsWith(SHARED_MARKER)))
    .sort();
}

/**
 * Builds every entry into `outDir` (default `dist/lambda`), replacing what
 * was there. Resolves with each function's file, size and bundled packages.
 */
export async function buildLambdas(options: { outDir?: string } = {}): Promise<BuiltLambda[]> {
  const outDir = path.resolve(options.outDir ?? path.join(ROOT, 'dist', 'lambda'));
  rmSync(outDir, { recursive: true, force: true });
  const entries = lambdaEntries();
  for (const entry of entries) {
    if (!/^export (?:const|(?:async )?function) handler\b/m.test(readFileSync(path.join(ENTRY_DIR, entry), 'utf8'))) {
      throw new Error(`src/runtimes/lambda/${entry} exports no \`handler\`: export one, or mark a shared module with a "${SHARED_MARKER}" line at the top`);
    }
  }
  const built: BuiltLambda[] = [];
  for (const entry of entries) {
    const name = entry.replace(/\.ts$/, '');
    const file = path.join(outDir, name, 'index.mjs');
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [path.join(ENTRY_DIR, entry)],
      outdir: path.join(outDir, name),
      entryNames: 'index',
      outExtension: { '.js': '.mjs' },
      // Modules imported with `import()` (pg-boss and its date libraries, nodemailer, ...) go to chunks of their
      // own, read and compiled only when first imported: the cold start compiles only what the handler loads.
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      minify: true,
      sourcemap: true,
      // Stack traces name our functions and classes (error classes are matched by name in places).
      keepNames: true,
      // The source map's paths stay relative, so a bundle built on any machine is byte-identical.
      sourceRoot: '',
      legalComments: 'linked',
      external: EXTERNAL,
      plugins: [zodEnglishOnly],
      // ESM output still has to run the CommonJS packages it bundles (pg, pino, ...): give them `require`,
      // `__filename` and `__dirname`.
      banner: {
        js: [
          "import { createRequire as __kidslearnCreateRequire } from 'node:module';",
          "import { fileURLToPath as __kidslearnFileURLToPath } from 'node:url';",
          'const require = __kidslearnCreateRequire(import.meta.url);',
          'const __filename = __kidslearnFileURLToPath(import.meta.url);',
          "const __dirname = __kidslearnFileURLToPath(new URL('.', import.meta.url));",
        ].join(' '),
      },
      metafile: true,
      logLevel: 'warning',
    });
    const entryOutput = path.relative(ROOT, file).split(path.sep).join('/');
    const output = result.metafile.outputs[entryOutput];
    if (!output) throw new Error(`esbuild did not report ${file}`);
    // The function's code: its entry and the chunks (index.mjs and chunks/*.mjs), by package.
    const packages: Record<string, number> = {};
    let bytes = 0;
    for (const [outputPath, o] of Object.entries(result.metafile.outputs)) {
      if (!outputPath.endsWith('.mjs')) continue;
      bytes += o.bytes;
      for (const [input, { bytesInOutput }] of Object.entries(o.inputs)) {
        const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
        const key = match ? match[1]! : 'src';
        packages[key] = (packages[key] ?? 0) + bytesInOutput;
      }
    }
    for (const forbidden of ['@electric-sql/', '@duckdb/', '@aws-sdk/client-']) {
      const found = Object.keys(packages).find((p) => p.startsWith(forbidden));
      if (found) throw new Error(`${name}: ${found} was bundled; it must stay external (see scripts/build-lambda.ts)`);
    }
    for (const { from, to, besideModule } of RUNTIME_FILES[name] ?? []) {
      let base = path.join(outDir, name);
      if (besideModule) {
        const holder = Object.entries(result.metafile.outputs).find(([, o]) => o.inputs[besideModule])?.[0];
        if (!holder) throw new Error(`${name}: no output holds ${besideModule}, which reads ${from} at run time`);
        base = path.dirname(path.join(ROOT, holder));
      }
      const target = path.join(base, to);
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(path.join(ROOT, from), target, { recursive: true });
    }
    // Loaded at init: the entry, what it imports statically, and what the entry itself imports with `import()`
    // (an entry that awaits its handler's module at top level: api.ts), with their static imports.
    const atInit = new Set<string>();
    const visit = (o: string) => {
      if (atInit.has(o)) return;
      atInit.add(o);
      for (const i of result.metafile.outputs[o]?.imports ?? []) if (i.kind === 'import-statement' && result.metafile.outputs[i.path]) visit(i.path);
    };
    visit(entryOutput);
    const entryInput = path.relative(ROOT, path.join(ENTRY_DIR, entry)).split(path.sep).join('/');
    for (const i of result.metafile.inputs[entryInput]?.imports ?? []) {
      if (i.kind !== 'dynamic-import') continue;
      const chunk = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === i.path)?.[0];
      if (chunk) visit(chunk);
    }
    const initBytes = [...atInit].reduce((sum, o) => sum + result.metafile.outputs[o]!.bytes, 0);
    const initSources: Record<string, number> = {};
    for (const o of atInit) {
      for (const [input, { bytesInOutput }] of Object.entries(result.metafile.outputs[o]!.inputs)) {
        const key = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? /^src\/[^/]+(?:\/[^/]+(?=\/))?/.exec(input)?.[0] ?? input;
        initSources[key] = (initSources[key] ?? 0) + bytesInOutput;
      }
    }
    const codeFiles = Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.mjs'));
    built.push({
      name,
      file,
      bytes,
      entryBytes: output.bytes,
      initBytes,
      files: codeFiles.map((o) => path.join(ROOT, o)),
      initFiles: [...atInit].map((o) => path.join(ROOT, o)),
      packages,
      initSources,
    });
  }
  return built;
}

if (import.meta.main) {
  const outDir = process.argv[2];
  const built = await buildLambdas(outDir ? { outDir } : {});
  for (const b of built) {
    const top = Object.entries(b.packages)
      .sort((a, c) => c[1] - a[1])
      .slice(0, 5)
      .map(([p, n]) => `${p} ${(n / 1024).toFixed(0)} KiB`)
      .join(', ');
    console.log(`${path.relative(process.cwd(), b.file)}  ${(b.bytes / 1024).toFixed(0)} KiB  (largest: ${top})`);
  }
}
