# Sourced by train_face_budget.sh and train_face_budget_soup.sh, not run: what both 3-hour lineages
# share. Sourcing it sets their common arguments and defaults (the script's DATA OUT WORK, PY,
# CACHE, BUDGET, S1_STEPS, EXTRA; see either script's header); budget_stage1 then builds the face
# cache and stage 1 (v3's recipe; --precision auto: bfloat16 where the CPU has bfloat16
# instructions, else float32) in WORK/s1 unless they are there, given S1_SIZE, and
# sets S1 (stage 1's metadata), cache_s (the cache's seconds, 240 when it was already there) and
# s1_s (stage 1's).
#
# With FACE_BUDGET_S1_PAIR=1, stage 1 is instead two runs of that recipe side by side, one thread
# each (seeds 0 and 1, unmeasured, in WORK/s1pair), and their uniform soup; the one of the three
# with the best mean landmark-swap AUC on two draws of the held-out sets that no rule is judged on
# (seeds 11 and 12; training.face_draws --pick) is stage 1. s1_s is then the wall time of all of it,
# kept in WORK/s1pair/seconds so that a rerun finds it.
DATA=${1:-../shared/data}
OUT=${2:-weights}
WORK=${3:-.cache/face_runs/budget}
PY=${PYTHON:-.venv/bin/python}
CACHE=${FACE_CACHE:-.cache/face_data}
BUDGET=${FACE_BUDGET_SECONDS:-10800}
S1_STEPS=${FACE_BUDGET_S1_STEPS:-3000}
S1_PAIR=${FACE_BUDGET_S1_PAIR:-0}
read -r -a EXTRA <<< "${FACE_BUDGET_EXTRA:-}"

budget_stage1() {
    S1="$WORK/s1/face-effnetlite0-b1.json"
    cache_s=240
    if [ ! -d "$CACHE" ]; then
        local t0
        t0=$(date +%s)
        "$PY" -m training.face_data --data "$DATA" --out "$CACHE"
        cache_s=$(( $(date +%s) - t0 ))
    fi
    mkdir -p "$WORK"
    if [ "$S1_PAIR" = 1 ]; then
        budget_stage1_pair
        return
    fi
    if [ ! -f "$S1" ]; then
        stage1_run "$WORK/s1" face-effnetlite0-b1 0
    fi
    s1_s=$("$PY" -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["training"]["lineage_seconds"]))' "$S1")
}

stage1_run() {  # OUT NAME SEED MORE...: v3's recipe from ImageNet weights
    local out=$1 name=$2 seed=$3
    shift 3
    "$PY" -m training.train_face --cache "$CACHE" --out "$out" --name "$name" --size "$S1_SIZE" \
        --steps "$S1_STEPS" --mirror 0.5 --warp 0.5 --precision auto --workers 0 --seed "$seed" \
        ${EXTRA[@]+"${EXTRA[@]}"} "$@"
}

budget_stage1_pair() {
    local dir="$WORK/s1pair" t0 a b
    if [ ! -f "$dir/seconds" ]; then
        mkdir -p "$dir"
        t0=$(date +%s)
        stage1_run "$dir/s0" face-effnetlite0-b1-s0 0 --threads 1 --no-measure > "$dir/s0.log" 2>&1 & a=$!
        stage1_run "$dir/s1" face-effnetlite0-b1-s1 1 --threads 1 --no-measure > "$dir/s1.log" 2>&1 & b=$!
        wait "$a" || { echo "error: see $dir/s0.log" >&2; exit 1; }
        wait "$b" || { echo "error: see $dir/s1.log" >&2; exit 1; }
        "$PY" -m training.face_soup --out "$dir/soup" --name face-effnetlite0-b1-soup \
            "$dir/s0/face-effnetlite0-b1-s0.json" "$dir/s1/face-effnetlite0-b1-s1.json"
        "$PY" -m training.face_draws --cache "$CACHE" --seeds 11,12 --json "$dir/draws.json" --pick "$dir/picked" \
            "$dir/s0/face-effnetlite0-b1-s0.json" "$dir/s1/face-effnetlite0-b1-s1.json" \
            "$dir/soup/face-effnetlite0-b1-soup.json"
        echo $(( $(date +%s) - t0 )) > "$dir/seconds"
    fi
    S1=$(cat "$dir/picked")
    s1_s=$(cat "$dir/seconds")
}
