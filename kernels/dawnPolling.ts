/**
 * Node only: how often Dawn's binding polls for finished GPU work. While any of its promises is
 * pending (a buffer read, `onSubmittedWorkDone`), the binding re-schedules its event processing
 * with `setImmediate`, i.e. as fast as the event loop turns (its own TODO, crbug.com/dawn/1127).
 * On a CPU adapter that spinning takes a core away from the driver's worker threads: on 2 cores,
 * a GPT-2-small explanation measured 2.29 s with it and 1.27 s without (docs/benchmarks.md).
 *
 * `throttleDawnPolling` wraps the global `setImmediate`: a call with the binding's callback (a
 * native function without a name; what `Napi::Function::New` makes) runs at once during the first
 * `SPIN_MS` of a wait, so short waits stay short, and after that on a 0 ms timer (Node rounds it
 * to 1 ms): at most one poll per millisecond. Every other call is passed through unchanged. A
 * throttled call returns a timer, which `clearImmediate` does not cancel; the binding never cancels
 * its polls.
 */

/** How long a wait polls at full speed before it backs off to one poll per timer tick. */
export const SPIN_MS = 0.5;
/**
 * A gap between two polls longer than this starts a new wait (with its own spin). Well above the
 * throttled polls' 1 ms, so that a timer firing late on a loaded machine does not restart spinning.
 */
const NEW_WAIT_MS = 5;

/** How the binding's polling runs: `throttled` (the default) or `immediate` (Dawn's own behaviour). */
export type DawnPolling = 'throttled' | 'immediate';

const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/;

let installed = false;

/** Whether `fn` looks like the binding's polling callback: a native function without a name. */
function isBindingCallback(fn: unknown): fn is (...args: unknown[]) => void {
  return typeof fn === 'function' && fn.name === '' && NATIVE_SOURCE.test(Function.prototype.toString.call(fn));
}

/** Installs the throttle once per process (idempotent); see the file comment. */
export function throttleDawnPolling(): void {
  if (installed) return;
  installed = true;
  const immediate = globalThis.setImmediate;
  let waitStart = 0;
  let lastPoll = -Infinity;
  const throttled = function (this: unknown, callback: unknown, ...args: unknown[]): unknown {
    if (!isBindingCallback(callback)) return Reflect.apply(immediate, this, [callback, ...args]);
    const now = performance.now();
    if (now - lastPoll > NEW_WAIT_MS) waitStart = now;
    lastPoll = now;
    return now - waitStart < SPIN_MS ? immediate(callback, ...args) : setTimeout(callback, 0, ...args);
  };
  // Node's own setImmediate carries `__promisify__`; keep whatever properties it has.
  Object.assign(throttled, immediate);
  globalThis.setImmediate = throttled as typeof setImmediate;
}
