/**
 * Compiles each shader variant once. A variant is named by a key that encodes every template
 * parameter, so the WGSL generator only runs on a cache miss.
 */
/** A compiled variant and its bind-group layout, fetched once rather than on every dispatch. */
export interface CachedPipeline {
  /** The compiled compute pipeline (entry point `main`). */
  pipeline: GPUComputePipeline;
  /** Bind group 0's layout, derived by Dawn from the WGSL (`layout: 'auto'`). */
  layout: GPUBindGroupLayout;
}

/** Compiled pipelines by key; the runtime owns one per device. */
export class PipelineCache {
  private readonly pipelines = new Map<string, CachedPipeline>();
  private compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The pipeline for `key`, compiling `generateWgsl()` only on the first request. */
  get(key: string, generateWgsl: () => string): CachedPipeline {
    let cached = this.pipelines.get(key);
    if (!cached) {
      const code = generateWgsl();
      const module = this.device.createShaderModule({ code, label: key });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      cached = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(key, cached);
      this.compiled++;
    }
    return cached;
  }

  /**
   * Compiles with error reporting (for tests of the templates): rejects with the WGSL error.
   * The work runs inside validation error scopes, so an error reported here is not reported a
   * second time by the runtime's `uncapturederror` listener at some unrelated later read.
   */
  async compileChecked(key: string, code: string): Promise<void> {
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: key });
    const moduleError = this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    const scopedModule = await moduleError;
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      throw new Error(`WGSL for ${key} does not compile:\n${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('\n')}`);
    }
    if (scopedModule) throw new Error(`WGSL for ${key} does not compile:\n${scopedModule.message}`);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    const pipelineError = this.device.popErrorScope();
    try {
      await pipeline;
    } catch (error) {
      await pipelineError;
      throw new Error(`WGSL for ${key} compiles but makes no pipeline: ${(error as Error).message}`);
    }
    const scoped = await pipelineError;
    if (scoped) throw new Error(`WGSL for ${key} compiles but makes no pipeline: ${scoped.message}`);
  }

  /** Pipelines compiled so far (`runtime().counters().pipelines`). */
  get size(): number {
    return this.compiled;
  }

  /** Keys of the variants compiled so far (tests check which template paths ran). */
  keys(): string[] {
    return [...this.pipelines.keys()];
  }
}
