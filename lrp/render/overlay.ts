/**
 * A vision transformer's relevance drawn over its input image: the image (stretched to a square,
 * as the model's resize does) under a grid of translucent patch cells, once for token (patch
 * content) relevance and once for position relevance. The CLS token has no patch; its numbers are
 * written under the panels, and it does not set the colour scale. The image is drawn grey and
 * faded so that the relevance colours read as colours.
 */
import type { Explanation } from '../result.js';
import { cssColor, relevanceColor } from './color.js';
import { escapeMarkup } from './escape.js';
import { formatRelevance, headline } from './format.js';
import { figureScale, MAX_SCALE } from './scale.js';
import type { FigureOptions } from './figure.js';

/** The image as a URL an SVG `<image>` can show, e.g. a `data:image/png;base64,…` URL. */
export interface OverlayImage {
  /** The image's URL (a data: URL keeps the SVG self-contained). */
  href: string;
}

const PANEL = 256;
const GAP = 24;
const MARGIN = 12;
const TOP = 40;

/** Side of the patch grid: the explanation must have a square number of patch tokens (id ≥ 0). */
export function patchGrid(e: Explanation): number {
  const patches = e.tokens.filter((t) => t.id >= 0).length;
  const side = Math.round(Math.sqrt(patches));
  if (side * side !== patches || patches === 0) {
    throw new Error(`image overlay: ${patches} patch tokens do not form a square grid (is this a ViT explanation?)`);
  }
  return side;
}

function panel(e: Explanation, image: OverlayImage, x: number, which: 'token' | 'position', scale: number, side: number): string {
  const cell = PANEL / side;
  const cells = e.tokens
    .filter((t) => t.id >= 0)
    .map((t) => {
      const value = which === 'token' ? t.token : t.position;
      const cx = x + (t.id % side) * cell;
      const cy = TOP + Math.floor(t.id / side) * cell;
      return (
        `<rect class="patch" data-patch="${t.id}" data-${which}="${value}" x="${cx.toFixed(2)}" y="${cy.toFixed(2)}" ` +
        `width="${cell.toFixed(2)}" height="${cell.toFixed(2)}" fill="${cssColor(relevanceColor(value, scale))}" fill-opacity="0.75">` +
        `<title>patch ${t.id}: ${which} ${escapeMarkup(formatRelevance(value))}</title></rect>`
      );
    });
  return (
    `<text x="${x}" y="${TOP - 8}" font-size="12" fill="#333">${which} relevance</text>` +
    `<image href="${escapeMarkup(image.href)}" x="${x}" y="${TOP}" width="${PANEL}" height="${PANEL}" ` +
    `preserveAspectRatio="none" filter="url(#lrp-grey)" opacity="0.55"/>` +
    cells.join('')
  );
}

/** Standalone SVG: token and position relevance of each patch over the image. */
export function renderImageOverlaySvg(e: Explanation, image: OverlayImage, options: FigureOptions = {}): string {
  const side = patchGrid(e);
  // The CLS token is not drawn, so it does not set the colour scale either.
  const scale = figureScale({ ...e, tokens: e.tokens.filter((t) => t.id >= 0) }, options.scale ?? MAX_SCALE);
  const cls = e.tokens.find((t) => t.id < 0);
  const width = 2 * MARGIN + 2 * PANEL + GAP;
  const height = TOP + PANEL + 40;
  const note =
    `colour scale ±${formatRelevance(scale.value).replace('+', '')} (${scale.label} over the patches)` +
    (cls ? ` · CLS token ${formatRelevance(cls.token)}, position ${formatRelevance(cls.position)}` : '');
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, monospace">
<defs><filter id="lrp-grey"><feColorMatrix type="saturate" values="0"/></filter></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="${MARGIN}" y="16" font-size="12" font-weight="bold">${escapeMarkup(`transformer-lrp · ${headline(e)}`)}</text>
${panel(e, image, MARGIN, 'token', scale.value, side)}
${panel(e, image, MARGIN + PANEL + GAP, 'position', scale.value, side)}
<text x="${MARGIN}" y="${TOP + PANEL + 20}" font-size="10" fill="#555">${escapeMarkup(note)}</text>
</svg>
`;
}
