/** Writes a run's derived files: summary.json, table.md and one SVG chart per protocol. */
import { join } from 'node:path';
import { writeAtomically } from './files.js';
import { summaryCharts } from './plots.js';
import { markdownTable, type Summary } from './summary.js';

export async function writeReport(dir: string, summary: Summary): Promise<string[]> {
  const files: Record<string, string> = {
    'summary.json': `${JSON.stringify(summary, null, 2)}\n`,
    'table.md': markdownTable(summary),
    ...summaryCharts(summary),
  };
  for (const [name, text] of Object.entries(files)) await writeAtomically(join(dir, name), text);
  return Object.keys(files).map((name) => join(dir, name));
}
