#!/usr/bin/env bash
# The trained-experts experiment (README, "Trained experts"): the BFCL teacher's verified turns
# of multi_turn_base tasks with even indices train one LoRA adapter per role (the steward and the
# apps the evaluation uses) and, on the same turns with the same number of optimizer steps, one
# for the single-agent baseline; four arms are then evaluated on the first N odd tasks of every
# category (held out: no index is both learned and evaluated, in any category).
#
#   bash scripts/experts_experiment.sh [OUT]        # resumable: run it again to go on
#
# Settings by environment: BUDGET (optimizer steps per arm, default 800), N (odd tasks per
# category, default 10), ROUNDS (the sample grows in rounds, every arm and category in each, so
# a stopped experiment has a comparable table: default "3 N"), CONC (tasks at once, default 8:
# vLLM batches them). Progress: OUT/progress.log; a report after each round.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-experts-experiment}
BUDGET=${BUDGET:-800}
N=${N:-10}
ROUNDS=${ROUNDS:-"3 $N"}
CONC=${CONC:-8}
STEWARD=.venv/bin/steward
ROLES=steward,file_system,posting,messaging,math
CATEGORIES="multi_turn_base multi_turn_miss_func multi_turn_miss_param multi_turn_long_context"
mkdir -p "$OUT/eval"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/progress.log" >&2; }

log "train the steward arm: $ROLES, $BUDGET steps in all"
$STEWARD train --teacher bfcl --category multi_turn_base --tasks even --arm steward \
  --roles "$ROLES" --budget-steps "$BUDGET" --out "$OUT/train" --json -q > "$OUT/train-steward.json"
log "serve the experts trained so far"
$STEWARD serve >> "$OUT/progress.log" 2>&1
cat > "$OUT/single-expert.toml" <<'TOML'
[roles."<app:all>"]
model = "single-expert"
prompt_style = "compact"
TOML

bench() {  # ARM CATEGORY LIMIT ARGS...
  local arm=$1 category=$2 limit=$3
  shift 3
  log "evaluate $arm on $category (first $limit odd tasks)"
  $STEWARD bench bfcl --category "$category" --tasks odd --limit "$limit" --concurrency "$CONC" \
    --out "$OUT/eval/$arm" -q --json "$@" > "$OUT/eval/$arm.$category.json"
}
train_single() {
  log "train the single-agent arm: $BUDGET steps"
  $STEWARD train --teacher bfcl --category multi_turn_base --tasks even --arm single \
    --budget-steps "$BUDGET" --out "$OUT/train" --json -q > "$OUT/train-single.json"
  $STEWARD serve >> "$OUT/progress.log" 2>&1  # restarted with the new adapter
}
for limit in $ROUNDS; do
  for category in $CATEGORIES; do
    STEWARD_EXPERTS=0 bench steward-untrained "$category" "$limit" --agent no-memory
    bench steward-trained "$category" "$limit" --agent no-memory
    STEWARD_EXPERTS=0 bench single-untrained "$category" "$limit" --agent single
  done
  [ -s "$OUT/train-single.json" ] || train_single  # the fourth arm's training, after the first round
  for category in $CATEGORIES; do
    STEWARD_EXPERTS=0 bench single-trained "$category" "$limit" --agent single \
      --config "$OUT/single-expert.toml"
  done
  log "report after the first $limit odd tasks of each category"
  .venv/bin/python -m benchmarks.bfcl.experts_report "$OUT" | tee -a "$OUT/progress.log"
done
