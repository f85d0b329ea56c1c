/**
 * The explorer page: pick a model, type text or ids, see the predictions, pick the target (and a
 * contrast), and read the explanation of every method: the heatmap, a positional matrix, the
 * relevance per layer, the conservation ledger and the rules applied; export JSON and SVG.
 *
 * For automation (the browser test), `window.lrpExplorer` exposes the current explanations, and
 * `document.body.dataset.status` is `ready`, `busy`, `done`, `error` or `no-webgpu`.
 */
import { parseScaleMode, renderSvg, renderSvgComparison, METHOD_NAMES, type Explanation, type FigureOptions, type MethodName, type Prediction, type TargetSpec, type TransformerModel } from '../index.js';
import { jsonContract } from '../lrp/cli/contract.js';
import { explainAll, loadServedModel, NoWebGpuError, predict, startEngine, type PreparedInput } from './engine.js';
import { conservationHtml, escapeHtml, layerChartHtml, num, positionMatrixHtml, rulesHtml, visibleToken } from './panels.js';

/** A model the server offers (`/models.json`). */
interface ModelEntry {
  name: string;
  url: string;
  served: boolean;
  examples: { text?: string; ids?: number[]; label?: number }[];
}

const METHOD_NOTES: Record<MethodName, string> = {
  gi: 'Gradient × input: the plain gradient, no LRP rules (does not conserve).',
  'cp-lrp': 'CP-LRP: ε-rule on linear layers, attention weights held constant (Ali et al. 2022).',
  attnlrp: 'AttnLRP: ε-rule, softmax and products handled by their own rules; positional encodings held constant (Achtibat et al. 2024).',
  'pa-lrp': 'PA-LRP: AttnLRP with the positional encodings as inputs, so positions get their own relevance (Bakish et al. 2025).',
};

const TOP_K = 10;

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`explorer: #${id} is missing from the page`);
  return el as T;
}

const state = {
  models: [] as ModelEntry[],
  entry: undefined as ModelEntry | undefined,
  model: undefined as TransformerModel | undefined,
  prepared: undefined as PreparedInput | undefined,
  predictions: [] as Prediction[],
  target: undefined as number | undefined,
  contrast: undefined as number | undefined,
  explanations: new Map<MethodName, Explanation>(),
  method: 'pa-lrp' as MethodName,
  busy: false,
};

/** What the browser test and other automation read. */
const automation = {
  /** The current explanations by method, as plain JSON-able objects. */
  explanations: (): Record<string, Explanation> => Object.fromEntries(state.explanations),
  /** The loaded model's name, the predictions and the chosen target and contrast. */
  summary: () => ({ model: state.entry?.name, predictions: state.predictions, target: state.target, contrast: state.contrast, ids: state.prepared?.ids }),
};
(window as unknown as { lrpExplorer: typeof automation }).lrpExplorer = automation;

function setStatus(status: 'ready' | 'busy' | 'done' | 'error' | 'no-webgpu', message = ''): void {
  document.body.dataset.status = status;
  const el = $('status');
  el.textContent = message;
  el.classList.toggle('busy', status === 'busy');
  state.busy = status === 'busy';
  $<HTMLButtonElement>('run').disabled = state.busy || state.model === undefined;
  $<HTMLSelectElement>('model').disabled = state.busy;
}

function showError(error: unknown): void {
  const el = $('error');
  el.hidden = false;
  el.textContent = error instanceof Error ? error.message : String(error);
  setStatus('error', 'failed: see the message above');
}

function clearError(): void {
  const el = $('error');
  el.hidden = true;
  el.textContent = '';
}

function inputKind(): 'text' | 'ids' {
  return document.querySelector<HTMLInputElement>('input[name=input-kind]:checked')?.value === 'ids' ? 'ids' : 'text';
}

function setInputKind(kind: 'text' | 'ids'): void {
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name=input-kind]')) radio.checked = radio.value === kind;
}

/** Reads the input box as the model expects it, or throws a message for the user. */
function prepareInput(model: TransformerModel): PreparedInput {
  const raw = $<HTMLTextAreaElement>('input').value;
  if (inputKind() === 'text') {
    if (!model.tokenizer) throw new Error('This model has no tokenizer.json: give token ids instead.');
    if (raw.trim() === '') throw new Error('The input is empty: type some text or click an example.');
    const encoded = model.tokenizer.encode(raw);
    if (encoded.ids.length === 0) throw new Error('The tokenizer produced no tokens for this text.');
    return { input: { ids: [encoded.ids], tokenTypeIds: [encoded.tokenTypeIds] }, ids: encoded.ids, text: raw };
  }
  const parts = raw.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0) throw new Error('The input is empty: type token ids separated by commas or spaces.');
  const ids = parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`"${p}" is not a token id (ids are non-negative integers).`);
    const id = Number(p);
    if (id >= model.info.vocabSize) throw new Error(`Id ${id} is outside the vocabulary (size ${model.info.vocabSize}).`);
    return id;
  });
  return { input: { ids: [ids] }, ids };
}

/** The tokens the current input becomes, shown under the box as it is typed. */
function updateTokenPreview(): void {
  const el = $('tokens-preview');
  const model = state.model;
  if (!model) return void (el.textContent = '');
  try {
    const { ids } = prepareInput(model);
    const over = ids.length > model.info.maxPositions ? ` — more than the model's ${model.info.maxPositions} positions` : '';
    el.innerHTML = `${ids.length} tokens${escapeHtml(over)}: ${ids
      .map((id) => `<span class="tok">${escapeHtml(visibleToken(model.tokenizer?.tokenText(id) ?? `#${id}`))}<small>${id}</small></span>`)
      .join('')}`;
  } catch (error) {
    el.textContent = (error as Error).message;
  }
}

function modelDescription(model: TransformerModel): string {
  const i = model.info;
  const task = i.kind === 'classifier' ? `classifier (${(i.labels ?? []).join(', ') || `${i.numLabels} classes`})` : `causal LM, vocabulary ${i.vocabSize}`;
  return `${i.architecture}: ${task}; ${i.layers} layers, ${i.heads} heads, hidden ${i.hidden}; ${i.positional} positions (up to ${i.maxPositions})${model.tokenizer ? '' : '; no tokenizer: ids only'}`;
}

function exampleLabel(model: TransformerModel, label: number | undefined): string {
  if (label === undefined) return '';
  const name = model.info.labels?.[label] ?? model.tokenizer?.tokenText(label) ?? `#${label}`;
  return ` → ${name}`;
}

function renderExamples(): void {
  const el = $('examples');
  el.innerHTML = '';
  const model = state.model;
  const examples = state.entry?.examples ?? [];
  if (!model || examples.length === 0) return;
  const title = document.createElement('span');
  title.className = 'hint';
  title.textContent = 'Held-out examples (right answer after →):';
  el.append(title);
  for (const ex of examples) {
    const button = document.createElement('button');
    const useText = ex.text !== undefined && model.tokenizer !== undefined;
    button.textContent = `${useText ? ex.text : (ex.ids ?? []).join(',')}${exampleLabel(model, ex.label)}`;
    button.title = button.textContent;
    button.addEventListener('click', () => {
      setInputKind(useText ? 'text' : 'ids');
      $<HTMLTextAreaElement>('input').value = useText ? ex.text! : (ex.ids ?? []).join(', ');
      updateTokenPreview();
      void run();
    });
    el.append(button);
  }
}

async function selectModel(name: string): Promise<void> {
  const entry = state.models.find((m) => m.name === name);
  if (!entry || state.busy) return;
  clearError();
  setStatus('busy', `loading ${entry.name}…`);
  state.model?.dispose();
  state.model = undefined;
  state.explanations.clear();
  hideResults();
  try {
    state.model = await loadServedModel(entry.url, (f) => setStatus('busy', `loading ${entry.name}: ${Math.round(100 * f)}%`));
    if (state.model.info.image) {
      const name = state.model.info.architecture;
      state.model.dispose();
      state.model = undefined;
      throw new Error(`${name} takes images; the explorer explains text models (use lrp explain --image FILE for images).`);
    }
    state.entry = entry;
    $('model-info').textContent = modelDescription(state.model);
    const first = entry.examples[0];
    const text = state.model.tokenizer !== undefined && first?.text !== undefined;
    setInputKind(text || (state.model.tokenizer !== undefined && first === undefined) ? 'text' : 'ids');
    $<HTMLTextAreaElement>('input').value = text ? first!.text! : (first?.ids ?? []).join(', ');
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name=input-kind][value=text]')) radio.disabled = state.model.tokenizer === undefined;
    renderExamples();
    updateTokenPreview();
    setStatus('ready', `${entry.name} loaded: press Predict and explain`);
  } catch (error) {
    showError(error);
  }
}

function hideResults(): void {
  for (const id of ['predictions-panel', 'heatmap-panel', 'details-panel', 'compare-panel']) $(id).hidden = true;
  $('placeholder').hidden = false;
}

/** Forward pass for the predictions, then every method's explanation of the argmax. */
async function run(): Promise<void> {
  const model = state.model;
  if (!model || state.busy) return;
  clearError();
  try {
    state.prepared = prepareInput(model);
    if (state.prepared.ids.length > model.info.maxPositions) throw new Error(`The input has ${state.prepared.ids.length} tokens; this model takes at most ${model.info.maxPositions}.`);
    setStatus('busy', 'predicting…');
    state.predictions = await predict(model, state.prepared.input, TOP_K);
    state.target = state.predictions[0]!.id;
    state.contrast = undefined;
    renderPredictions();
    await explainCurrent();
  } catch (error) {
    showError(error);
  }
}

/**
 * Explains the current input for the chosen target (and contrast) with all four methods. A typed
 * target or contrast (a token or label) replaces the chosen one; explain() resolves it.
 */
async function explainCurrent(typed: { target?: TargetSpec; contrast?: TargetSpec } = {}): Promise<void> {
  const model = state.model;
  const prepared = state.prepared;
  const target = typed.target ?? state.target;
  if (!model || !prepared || target === undefined) return;
  const contrast = typed.contrast ?? state.contrast;
  clearError();
  try {
    const started = performance.now();
    const aggregation = $<HTMLSelectElement>('aggregation').value === 'abs' ? 'abs' : 'signed';
    state.explanations = await explainAll(model, prepared, { target, positionAggregation: aggregation, ...(contrast !== undefined ? { contrast } : {}) }, (method, i) =>
      setStatus('busy', `explaining with ${method} (${i + 1}/${METHOD_NAMES.length})…`),
    );
    const first = state.explanations.values().next().value!;
    state.target = first.target;
    state.contrast = first.contrast;
    renderPredictions();
    renderResults();
    setStatus('done', `explained with ${METHOD_NAMES.length} methods in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    showError(error);
  }
}

function renderPredictions(): void {
  const model = state.model!;
  const table = $('predictions');
  const kind = model.info.kind === 'classifier' ? 'class' : 'next token';
  const rows = state.predictions.map((p, rank) => {
    const cls = p.id === state.target ? 'target' : p.id === state.contrast ? 'contrast' : '';
    return `<tr class="${cls}" data-id="${p.id}"><td class="num">${rank + 1}</td><td class="text">${escapeHtml(visibleToken(p.text))}</td><td class="num">${p.id}</td><td class="num">${num(p.logit)}</td>
      <td class="num">${p.probability < 0.001 ? '&lt;0.1' : (100 * p.probability).toFixed(1)}%</td><td><span class="bar" style="width:${Math.max(1, Math.round(80 * p.probability))}px"></span></td>
      <td class="pick"><label><input type="radio" name="target" value="${p.id}" ${p.id === state.target ? 'checked' : ''}> target</label></td>
      <td class="pick"><label><input type="radio" name="contrast" value="${p.id}" ${p.id === state.contrast ? 'checked' : ''} ${p.id === state.target ? 'disabled' : ''}> contrast</label></td></tr>`;
  });
  table.innerHTML = `<tr><th class="num">#</th><th>${kind}</th><th class="num">id</th><th class="num">logit</th><th class="num">p</th><th></th><th class="pick">explain</th>
    <th class="pick"><label><input type="radio" name="contrast" value="" ${state.contrast === undefined ? 'checked' : ''}> no contrast</label></th></tr>${rows.join('')}`;
  for (const radio of table.querySelectorAll<HTMLInputElement>('input[type=radio]')) {
    radio.addEventListener('change', () => {
      if (state.busy) return;
      if (radio.name === 'target') {
        state.target = Number(radio.value);
        if (state.contrast === state.target) state.contrast = undefined;
      } else {
        state.contrast = radio.value === '' ? undefined : Number(radio.value);
      }
      renderPredictions();
      void explainCurrent();
    });
  }
  const described = (id: number | undefined, text: string | undefined): string => (id === undefined ? '' : `${id}${text !== undefined ? ` "${visibleToken(text)}"` : ''}`);
  const e = state.explanations.values().next().value;
  const inTop = (id: number | undefined): boolean => id === undefined || state.predictions.some((p) => p.id === id);
  $('choice').textContent =
    e && (!inTop(e.target) || !inTop(e.contrast))
      ? `Explaining ${described(e.target, e.targetText)}${e.contrast !== undefined ? ` minus ${described(e.contrast, e.contrastText)}` : ''} (not all in the list above).`
      : '';
  $('predictions-panel').hidden = false;
  $('placeholder').hidden = true;
}

function figureOptions(): FigureOptions {
  const options: FigureOptions = { scale: parseScaleMode($<HTMLSelectElement>('scale').value === 'p99' ? 'p99' : $<HTMLSelectElement>('scale').value === 'exclude-predicting' ? 'exclude-predicting' : 'max') };
  options.numbers = $<HTMLInputElement>('numbers').checked;
  options.words = $<HTMLInputElement>('words').checked;
  if (state.prepared?.text !== undefined) options.text = state.prepared.text;
  return options;
}

function renderMethodTabs(): void {
  const tabs = $('method-tabs');
  tabs.innerHTML = '';
  for (const method of METHOD_NAMES) {
    const button = document.createElement('button');
    button.textContent = method;
    button.setAttribute('role', 'tab');
    button.setAttribute('aria-selected', String(method === state.method));
    button.dataset.method = method;
    button.addEventListener('click', () => {
      state.method = method;
      renderResults();
    });
    tabs.append(button);
  }
}

function renderResults(): void {
  const e = state.explanations.get(state.method);
  if (!e) return;
  const options = figureOptions();
  renderMethodTabs();
  $('method-note').textContent = METHOD_NOTES[state.method];
  $('heatmap').innerHTML = renderSvg(e, options);
  $('matrix').innerHTML = positionMatrixHtml(e, options.numbers === true);
  $('layers-chart').innerHTML = layerChartHtml(e);
  $('conservation').innerHTML = conservationHtml(e);
  $('rules').innerHTML = rulesHtml(e);
  $('compare').innerHTML = renderSvgComparison([...state.explanations.values()], options);
  for (const id of ['heatmap-panel', 'details-panel', 'compare-panel']) $(id).hidden = false;
}

/** Saves text as a file through a temporary link. */
function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function fileStem(): string {
  return `${state.entry?.name ?? 'model'}-${state.method}`.replace(/[^A-Za-z0-9._-]+/g, '_');
}

function wire(): void {
  $<HTMLSelectElement>('model').addEventListener('change', (event) => void selectModel((event.target as HTMLSelectElement).value));
  $('run').addEventListener('click', () => void run());
  $('input').addEventListener('input', updateTokenPreview);
  $('input').addEventListener('keydown', (event) => {
    if ((event as KeyboardEvent).key === 'Enter' && ((event as KeyboardEvent).ctrlKey || (event as KeyboardEvent).metaKey)) void run();
  });
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name=input-kind]')) radio.addEventListener('change', updateTokenPreview);
  for (const id of ['scale', 'numbers', 'words']) $(id).addEventListener('change', renderResults);
  $('aggregation').addEventListener('change', () => void explainCurrent());
  $('other-target').addEventListener('submit', (event) => {
    event.preventDefault();
    const raw = $<HTMLInputElement>('other-target-input').value.trim();
    if (raw === '' || state.busy) return;
    const spec: TargetSpec = /^\d+$/.test(raw) ? Number(raw) : raw;
    void explainCurrent($<HTMLSelectElement>('other-role').value === 'contrast' ? { contrast: spec } : { target: spec });
  });
  $('download-json').addEventListener('click', () => {
    const e = state.explanations.get(state.method);
    if (e) download(`${fileStem()}.json`, `${JSON.stringify(jsonContract(e), null, 2)}\n`, 'application/json');
  });
  $('download-svg').addEventListener('click', () => {
    const e = state.explanations.get(state.method);
    if (e) download(`${fileStem()}.svg`, renderSvg(e, figureOptions()), 'image/svg+xml');
  });
  $('download-compare-svg').addEventListener('click', () => {
    if (state.explanations.size > 0) download(`${state.entry?.name ?? 'model'}-methods.svg`, renderSvgComparison([...state.explanations.values()], figureOptions()), 'image/svg+xml');
  });
}

async function start(): Promise<void> {
  wire();
  try {
    $('adapter').textContent = `WebGPU adapter: ${await startEngine()} — the explanations are computed in this tab.`;
  } catch (error) {
    document.body.dataset.status = 'no-webgpu';
    const banner = $('no-webgpu');
    banner.hidden = false;
    banner.innerHTML = `<h2>WebGPU is not available here</h2><p>${escapeHtml((error as Error).message)}</p>`;
    $('adapter').textContent = 'No WebGPU: the explorer cannot run in this browser.';
    $('placeholder').textContent = 'The explorer needs WebGPU (see the message above).';
    if (!(error instanceof NoWebGpuError)) console.error(error);
    return;
  }
  try {
    const response = await fetch('/models.json');
    if (!response.ok) throw new Error(`/models.json: HTTP ${response.status}`);
    state.models = ((await response.json()) as { models: ModelEntry[] }).models;
  } catch (error) {
    return showError(new Error(`Could not list the models (${(error as Error).message}). Is lrp serve still running?`));
  }
  const select = $<HTMLSelectElement>('model');
  select.innerHTML = state.models.map((m) => `<option value="${escapeHtml(m.name)}">${escapeHtml(m.served ? `${m.name} (served with --model)` : `${m.name} (demo)`)}</option>`).join('');
  const first = state.models[0];
  if (first) await selectModel(first.name);
  else showError(new Error('The server offers no models.'));
}

void start();
