// Prints the WebGPU adapter Dawn finds, or exits 1 when there is none (used by scripts/setup.sh).
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.log('no adapter');
  process.exit(1);
}
const info = adapter.info;
console.log(`${info.vendor} ${info.architecture} ${info.description}`.trim());
// Keep `gpu` reachable until here (SETUP.md item 6).
globalThis.__lrpProbe = gpu;
process.exit(0);
