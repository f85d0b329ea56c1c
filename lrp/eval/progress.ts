/**
 * Progress of a long evaluation: a cli-progress bar with examples/s and ETA where a person
 * watches (stderr is a terminal), one plain line per example otherwise (logs, CI, pipes).
 */
import { SingleBar } from 'cli-progress';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Progress {
  tick(note?: string): void;
  stop(): void;
}

/** A bar (terminal) or one line per tick (otherwise); `unit` names what is counted (plural). */
export function createProgress(stream: ProgressStream, total: number, done: number, label: string, unit = 'examples'): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: `${label} {bar} {value}/{total} ${unit} | {speed} ${unit === 'examples' ? 'ex' : unit}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 20,
    });
    const started = Date.now();
    const startDone = done;
    bar.start(total, done, { speed: '0.00' });
    return {
      tick() {
        done++;
        const rate = (done - startDone) / Math.max((Date.now() - started) / 1000, 1e-3);
        bar.update(done, { speed: rate.toFixed(2) });
      },
      stop: () => bar.stop(),
    };
  }
  const started = Date.now();
  const startDone = done;
  return {
    tick(note) {
      done++;
      const seconds = (Date.now() - started) / 1000;
      const rate = (done - startDone) / Math.max(seconds, 1e-3);
      const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
      stream.write(`${label}: ${done}/${total} ${unit}, ${rate.toFixed(2)} ${unit === 'examples' ? 'ex' : unit}/s, ETA ${eta} s${note ? ` (${note})` : ''}\n`);
    },
    stop() {},
  };
}
