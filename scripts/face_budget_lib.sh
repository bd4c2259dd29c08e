# Sourced by train_face_budget.sh and train_face_budget_soup.sh, not run: what both 3-hour lineages
# share. Sourcing it sets their common arguments and defaults (the script's DATA OUT WORK, PY,
# CACHE, BUDGET, S1_STEPS, EXTRA; see either script's header); budget_stage1 then builds the face
# cache and stage 1 (v3's recipe in bfloat16) in WORK/s1 unless they are there, given S1_SIZE, and
# sets S1 (stage 1's metadata), cache_s (the cache's seconds, 240 when it was already there) and
# s1_s (stage 1's).
DATA=${1:-../shared/data}
OUT=${2:-weights}
WORK=${3:-.cache/face_runs/budget}
PY=${PYTHON:-.venv/bin/python}
CACHE=${FACE_CACHE:-.cache/face_data}
BUDGET=${FACE_BUDGET_SECONDS:-10800}
S1_STEPS=${FACE_BUDGET_S1_STEPS:-3000}
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
    if [ ! -f "$S1" ]; then
        "$PY" -m training.train_face --cache "$CACHE" --out "$WORK/s1" --name face-effnetlite0-b1 \
            --size "$S1_SIZE" --steps "$S1_STEPS" --mirror 0.5 --warp 0.5 --precision bfloat16 --workers 0 \
            --seed 0 ${EXTRA[@]+"${EXTRA[@]}"}
    fi
    s1_s=$("$PY" -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["training"]["lineage_seconds"]))' "$S1")
}
