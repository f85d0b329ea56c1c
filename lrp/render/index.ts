export { renderAnsi, type AnsiOptions } from './ansi.js';
export { renderHtml } from './html.js';
export { renderSvg } from './svg.js';
export {
  contrastingText,
  cssColor,
  explanationScale,
  relevanceColor,
  relevanceIntensity,
  relevanceScale,
  type Rgb,
} from './color.js';
