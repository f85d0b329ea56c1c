export { renderAnsi, type AnsiOptions } from './ansi.js';
export { renderHtml, renderHtmlComparison, type HtmlOptions } from './html.js';
export { renderTikz, escapeLatex } from './tikz.js';
export { renderImageOverlaySvg, patchGrid, type OverlayImage } from './overlay.js';
export { renderSvg, renderSvgComparison, type FigureOptions } from './svg.js';
export { parseScaleMode, figureScale, predictingIndex, percentile, MAX_SCALE, type ScaleMode, type FigureScale } from './scale.js';
export { aggregateWords } from './words.js';
export { renderGenerationAnsi, renderGenerationHtml, renderGenerationSvg, type GenerationAnsiOptions, type GenerationFigureOptions } from './generation.js';
export {
  contrastingText,
  cssColor,
  explanationScale,
  relevanceColor,
  relevanceIntensity,
  relevanceScale,
  type Rgb,
} from './color.js';
