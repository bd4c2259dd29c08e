# Sourced by train_face_budget.sh and train_face_budget_soup.sh, not run: the face cache and stage 1
# (v3's recipe in bfloat16), so that both lineages build and reuse the same stage 1 in WORK/s1.
# budget_stage1 needs DATA, WORK, PY, CACHE, S1_STEPS, S1_SIZE and EXTRA; it sets S1 (stage 1's
# metadata), cache_s (the cache's seconds, 240 when it is already there) and s1_s (stage 1's).
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
