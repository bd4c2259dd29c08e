# Shared by scripts/gpu_face_sweep.sh and scripts/gpu_voice_sweep.sh (sourced, not run).

# gpu_setup WHEELS_DIR: install the wheels found there (packages the GPU machine lacks) into
# /tmp/site, put them and this checkout on PYTHONPATH, and print what torch sees.
gpu_setup() {
  if ls "$1"/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$1"/*.whl || return 1
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
  fi
  export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
  $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
}

# run_side_by_side WORK OUT_DIR RUN...: for each "name|arguments" RUN, call the caller's
# `launch NAME ARGUMENTS` (its output goes to WORK/NAME/train.log) in the background, wait for
# all, print each log's `summarize`, and pack WORK/NAME as OUT_DIR/NAME.tar. Fails if any run did.
run_side_by_side() {
  local work=$1 out=$2 r name rc=0
  shift 2
  local pids=()
  for r in "$@"; do
    name=${r%%|*}
    mkdir -p "$work/$name"
    launch "$name" "${r#*|}" >"$work/$name/train.log" 2>&1 &
    pids+=($!)
  done
  for r in "${pids[@]}"; do wait "$r" || rc=1; done
  for r in "$@"; do
    name=${r%%|*}
    summarize "$work/$name/train.log"
    tar -C "$work" -cf "$out/$name.tar" "$name"
  done
  return $rc
}

# face_cache PACK WORK LOGS: the face training cache that PACK holds, printed as a path. PACK may
# be a packed cache (training.face_pack), its parts (training.parts, joined into WORK/pack) or an
# unpacked cache (dry runs: used as it is); a pack is unpacked into WORK/cache. The join and unpack
# logs go to LOGS; on failure they are shown and it returns 1.
face_cache() {
  local pack=$1 work=$2 logs=$3
  mkdir -p "$logs"
  if [[ -f "$pack/crops.npy" ]]; then
    echo "$pack"
    return 0
  fi
  if [[ -f "$pack/part1/PACK.sha256" ]]; then  # parts from `python -m training.parts split`, one per call
    $PY -m training.parts join --pack "$pack" --out "$work/pack" >"$logs/join.log" 2>&1 || { cat "$logs/join.log" >&2; return 1; }
    pack=$work/pack
  fi
  $PY -m training.face_pack unpack --pack "$pack" --out "$work/cache" >"$logs/unpack.log" 2>&1 || { cat "$logs/unpack.log" >&2; return 1; }
  tail -n 2 "$logs/unpack.log" >&2
  echo "$work/cache"
}
