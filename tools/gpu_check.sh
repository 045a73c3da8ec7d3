#!/usr/bin/env bash
# The GPU check: every experiment at its default config with platform=gpu (several at once),
# then the whole test suite with the GPU visible; one table of claims and seconds.
#
#   bash tools/gpu_check.sh [overrides...]       e.g.  bash tools/gpu_check.sh matmul_precision=default
#
# Needs a CUDA build of JAX (pip install -U "jax[cuda13]") and the project's dependencies; on a
# machine without hydra-core, ../shared/tools/gpu-prep makes .gpu/run.sh, which installs the
# wheels it needs and then runs this script. Environment: JOBS (experiments at once, default 4),
# TIMEOUT (seconds per experiment, default 900), OUT (where to write; default /tmp),
# PYTHON (default python3), SKIP_TESTS=1 to run the experiments only, PLATFORM=cpu to try the
# script itself on a machine without a GPU, EXPERIMENTS="svd eigen" for a subset.
# Writes $OUT/gpu-check/: runs/<experiment>/ (each run's folder and log), table.md, pytest.log.
# The benchmark experiment runs alone after the others; commit its runs/benchmark/benchmark.md
# as results/benchmark-<device>.md.
set -u
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
out=${OUT:-/tmp}/gpu-check
rm -rf "$out"
mkdir -p "$out/runs"
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # the jobs share the GPU's memory
export PYTHONUNBUFFERED=1
export PLATFORM=${PLATFORM:-gpu}          # PLATFORM=cpu tries this script on a machine without one
"$py" -c "import jax; print('jax', jax.__version__, jax.devices())" || exit 1
if [ "$PLATFORM" = gpu ] && ! "$py" -c "import jax; jax.devices('gpu')" >/dev/null 2>&1; then
  echo "gpu_check: JAX sees no GPU here; install a CUDA build of JAX (jax[cuda13])" >&2
  exit 2
fi

SECONDS=0
names=${EXPERIMENTS:-$(ls configs/experiment/*.yaml | xargs -n1 basename | sed 's/\.yaml$//')}
# the benchmark times kernels: it runs alone, after the others, never sharing the device
bench=""
case " $(echo $names) " in *" benchmark "*) bench=benchmark ;; esac
names=$(printf '%s\n' $names | grep -vx benchmark)
printf '%s\n' $names | \
  xargs -P "${JOBS:-4}" -I{} sh -c \
    't=$0; p=$1; o=$2; shift 2
     timeout "$t" "$p" run.py experiment={} platform="$PLATFORM" hydra.run.dir="$o/runs/{}" "$@" \
       > "$o/runs/{}.log" 2>&1; echo "  {} done (exit $?)"' \
    "${TIMEOUT:-900}" "$py" "$out" "$@"
if [ -n "$bench" ]; then
  timeout "${TIMEOUT:-900}" "$py" run.py experiment=benchmark platform="$PLATFORM" \
    hydra.run.dir="$out/runs/benchmark" "$@" > "$out/runs/benchmark.log" 2>&1
  echo "  benchmark done, alone (exit $?); its table: $out/runs/benchmark/benchmark.md"
fi
echo "== experiments: ${SECONDS}s"
"$py" tools/claims_table.py "$out/runs" --out "$out/table.md"
exp_status=$?

test_status=0
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  if "$py" -c "import pytest, pytest_timeout" >/dev/null 2>&1; then
    SECONDS=0
    # MATHML_TEST_PLATFORM=auto: the suite sees the GPU (it pins JAX to the CPU otherwise)
    MATHML_TEST_PLATFORM=auto "$py" -m pytest -q -p no:cacheprovider tests > "$out/pytest.log" 2>&1
    test_status=$?
    echo "== tests with the GPU visible: ${SECONDS}s"
    grep -E "^(FAILED|ERROR)|passed|failed" "$out/pytest.log" | tail -n 20
  else
    echo "== tests skipped: pytest and pytest-timeout are not installed (gpu-prep pytest pytest-timeout)"
    test_status=3
  fi
fi
echo "== table: $out/table.md"
[ $exp_status -eq 0 ] && [ $test_status -eq 0 ]
