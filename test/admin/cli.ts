// Runs the admin command line as a child process (as an operator does), against a deployment described by a configuration file.
import { spawn } from 'node:child_process';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `vestibule <args>` with BROKER_CONFIG=configFile (none: the development configuration); runs alongside other children. */
export function vestibule(args: string[], configFile?: string, input = ''): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, BROKER_CONFIG: configFile };
  delete env.REDIS_URL;
  if (!configFile) delete env.BROKER_CONFIG;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr: stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, '') }));
    child.stdin.end(input);
  });
}

/** The one JSON line a --json command printed. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  return JSON.parse(result.stdout) as T;
}
