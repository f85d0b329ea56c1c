#!/usr/bin/env bash
# The perturbation evaluation of every trained demo model (issue 11, deliverable 5): runs
# `lrp eval-perturbation` for gi, cp-lrp, attnlrp, pa-lrp and random on each models/<task>/heldout.jsonl,
# ranking by token relevance and by token + position relevance, then copies each run's table,
# summary and charts to docs/evaluation/<task>/<rank-by>/ and writes
# docs/evaluation/perturbation-results.md (the tables with links to the charts), which it also puts into
# docs/evaluation.md between the markers <!-- perturbation-results:start --> and <!-- perturbation-results:end -->.
#
# Raw per-example results stay in eval-runs/ (not committed). A rerun resumes unfinished runs;
# delete eval-runs/<task> to start one afresh. Environment: REPLACE (default auto: the model's unk
# token, else pad, else mask, else zero-embedding),
# RANK_BY (default "token total"), BATCH (perturbed copies per forward, default 64),
# MAX_EXAMPLES (stop after N more held-out examples of each task; default 0 = all 512).
set -euo pipefail
cd "$(dirname "$0")/.."

REPLACE=${REPLACE:-auto}
RANK_BY=${RANK_BY:-token total}
BATCH=${BATCH:-64}
MAX_EXAMPLES=${MAX_EXAMPLES:-0}
RUNS=eval-runs
DOCS=docs/evaluation

shopt -s nullglob
sets=(models/*/heldout.jsonl)
if [ ${#sets[@]} -eq 0 ]; then
  echo "no models/*/heldout.jsonl: train the demo models first" >&2
  exit 2
fi

npm run build --silent
mkdir -p "$DOCS"
report="$DOCS/perturbation-results.md"
tmp="$report.tmp"
{
  echo "<!-- written by scripts/eval-perturbation-demos.sh; do not edit by hand -->"
  echo
} >"$tmp"

failed=()
for data in "${sets[@]}"; do
  model=$(dirname "$data")
  task=$(basename "$model")
  for rank in $RANK_BY; do
    out="$RUNS/$task/$rank"
    cmd=(node dist/lrp/cli/main.js eval-perturbation --model "$model" --data "$data"
      --method gi,cp-lrp,attnlrp,pa-lrp,random --replace "$REPLACE" --rank-by "$rank" --batch-size "$BATCH" --out "$out")
    [ "$MAX_EXAMPLES" != 0 ] && cmd+=(--max-examples "$MAX_EXAMPLES")
    [ -f "$out/settings.json" ] && cmd+=(--resume)
    echo "== $task, rank by $rank: ${cmd[*]}" >&2
    start=$(date +%s)
    if ! "${cmd[@]}" >/dev/null; then
      echo "== $task, rank by $rank: FAILED (see above); continuing with the others" >&2
      failed+=("$task/$rank")
      continue
    fi
    seconds=$(( $(date +%s) - start ))
    dest="$DOCS/$task/$rank"
    mkdir -p "$dest"
    cp "$out"/summary.json "$out"/table.md "$out"/*.svg "$dest"/
    {
      echo "### $task, ranked by $rank relevance"
      echo
      echo '```sh'
      echo "lrp eval-perturbation --model $model --data $data --method gi,cp-lrp,attnlrp,pa-lrp,random --replace $REPLACE --rank-by $rank --out $out"
      echo '```'
      echo
      cat "$dest/table.md"
      echo
      echo "Wall time of this run here: ${seconds} s."
      echo
      for chart in generate pruning pruning-mse morf lerf; do
        echo "![$task $chart ($rank)](evaluation/$task/$rank/$chart.svg)"
      done
      echo
    } >>"$tmp"
  done
done
mv "$tmp" "$report"
# Into docs/evaluation.md between its markers, when it has them (links there are relative to docs/).
node -e '
  const fs = require("fs");
  const [doc, part] = process.argv.slice(1);
  const start = "<!-- perturbation-results:start -->", end = "<!-- perturbation-results:end -->";
  const text = fs.existsSync(doc) ? fs.readFileSync(doc, "utf8") : "";
  const a = text.indexOf(start), b = text.indexOf(end);
  if (a < 0 || b < a) { console.error(`${doc} has no ${start} ... ${end} markers: paste ${part} there`); process.exit(0); }
  fs.writeFileSync(doc, text.slice(0, a + start.length) + "\n" + fs.readFileSync(part, "utf8") + text.slice(b));
  console.error(`updated ${doc}`);
' docs/evaluation.md "$report"
echo "wrote $report and $DOCS/<task>/<rank-by>/" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
