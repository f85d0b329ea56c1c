/**
 * Dawn prints two notices from native code straight to file descriptor 2 whenever it creates an
 * adapter ("maxDynamic…BuffersPerPipelineLayout artificially reduced …"). JavaScript cannot
 * redirect a native write, so the `lrp` command runs itself as a child with stderr piped and
 * drops exactly those lines; everything else, progress bars included, passes through at once.
 */
import { spawn } from 'node:child_process';

const WARNING = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n$/;
const PREFIX = 'Warning: maxDynamic';

/** Set in the child; also lets a user keep Dawn's notices (LRP_DAWN_WARNINGS=1 skips the filter). */
export const CHILD_ENV = 'LRP_CLI_CHILD';

/**
 * Filters a stream of stderr text. Complete lines that are Dawn's notices are dropped; a partial
 * line is held back only while it may still turn into one, so `\r` progress updates are not delayed.
 */
export class DawnWarningFilter {
  private pending = '';

  /** Returns the text to pass on now. */
  push(chunk: string): string {
    let text = this.pending + chunk;
    let out = '';
    for (;;) {
      const newline = text.indexOf('\n');
      if (newline < 0) {
        const mayBeWarning = PREFIX.startsWith(text) || text.startsWith(PREFIX);
        this.pending = mayBeWarning ? text : '';
        return mayBeWarning ? out : out + text;
      }
      const line = text.slice(0, newline + 1);
      if (!WARNING.test(line)) out += line;
      text = text.slice(newline + 1);
    }
  }

  /** Whatever is still held back, at the end of the stream. */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return rest;
  }
}

/**
 * Runs this same script as a child whose stderr goes through the filter, and resolves to the
 * child's exit code. The child learns whether our stderr is a terminal (for progress bars).
 */
export function runFiltered(script: string, argv: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_ENV]: '1' };
  if (process.stderr.isTTY) {
    env.LRP_STDERR_TTY = '1';
    env.LRP_STDERR_COLUMNS = String(process.stderr.columns ?? 80);
  }
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], { stdio: ['inherit', 'inherit', 'pipe'], env });
  const filter = new DawnWarningFilter();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const text = filter.push(chunk);
    if (text) process.stderr.write(text);
  });
  // Ctrl-C reaches the whole process group; a kill aimed at us alone is passed on.
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const rest = filter.flush();
      if (rest) process.stderr.write(rest);
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}
