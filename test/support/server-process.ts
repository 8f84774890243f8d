import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Starts `src/runtimes/node-server.ts` exactly as `npm start` does
 * (`exec node --liftoff-only …`) on a free port with `env` added to this
 * process's environment, and waits (at most 60 s) for the URL it prints.
 */
export function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return startRuntime('src/runtimes/node-server.ts', /running at (http:\/\/localhost:\d+)/, env);
}

/** Starts `src/runtimes/engine.ts` as `npm run engine` does, with `ENGINE_PORT=0`, and waits for its URL. */
export function startEngineProcess(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return startRuntime('src/runtimes/engine.ts', /engine \S+ working at (http:\/\/localhost:\d+)/, { ENGINE_PORT: '0', ...env });
}

/** Starts `src/runtimes/lake.ts` as `npm run lake` does, with `LAKE_PORT=0`, and waits for its URL. */
export function startLakeProcess(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return startRuntime('src/runtimes/lake.ts', /lake writer \S+ working at (http:\/\/localhost:\d+)/, { LAKE_PORT: '0', ...env });
}

async function startRuntime(entry: string, ready: RegExp, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--liftoff-only', entry], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start in 60 s:\n${output}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}
