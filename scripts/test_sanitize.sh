#!/usr/bin/env bash
# make test-sanitize: the engine tests and the native hosts with the plugin they load, built
# with sanitizers into their own build trees, and the threaded tests run there.
#
#   ASan + UBSan (build-asan/): every engine test; the native real-time host's self-tests and
#     its lifecycle and real-time tests (tests/test_lifecycle.py, tests/test_realtime.py) with
#     an instrumented host and plugin.
#   TSan (build-tsan/): the threaded engine, EngineSwitcher and reset tests, and the lifecycle
#     tests (state restore, resets and parameter changes while playing; model switches).
#
# The first report aborts the run (-fno-sanitize-recover, halt_on_error): green means zero.
# libtorch and JUCE from Debian are not instrumented; what the suppressions file names (their
# own internals only) is documented there.
#
#   scripts/test_sanitize.sh PYTHON [asan|tsan|all]
set -euo pipefail
python="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" # absolute, the venv link kept
which=${2:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${JOBS:-$(nproc)}
suppressions="$root/scripts/sanitizer-suppressions"

build_tree() { # dir sanitizers
  local dir=$1 sanitizers=$2
  # -O1 and line tables only: sanitizer builds compile JUCE twice (host and plugin) on CI.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" -DTIMBREL_SANITIZE="$sanitizers" \
    -DPython3_EXECUTABLE="$python" > /dev/null
  cmake --build "$dir" -j"$jobs" --target timbrel_test_models timbrel_engine_tests timbrel_model_fuzz timbrel_rt_host Timbrel_All
  # The effect only: the host tests below load it (Timbrel Synth's engine is in the ctests).
  TIMBREL_PLUGINS=Timbrel bash scripts/assemble_dist.sh "$dir" "$dir/dist" "$python" > /dev/null
}

host_tests() { # dir pytest-args...
  local dir=$1
  shift
  TIMBREL_PLUGIN="$dir/dist/Timbrel.vst3" \
    TIMBREL_RT_HOST="$dir/tests/native/timbrel_rt_host_artefacts/Release/timbrel_rt_host" \
    "$python" -m pytest -q -p no:cacheprovider "$@"
}

if [[ $which == asan || $which == all ]]; then
  echo "== ASan + UBSan"
  build_tree build-asan address,undefined
  # allocator_may_return_null: a model asking for 4 TiB gets a failed allocation, as without ASan.
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:allocator_may_return_null=1:suppressions=$suppressions.asan"
  export LSAN_OPTIONS="suppressions=$suppressions.lsan:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$suppressions.ubsan"
  (cd build-asan && ctest --output-on-failure -j"$jobs")
  # The allocation counter stays out of sanitizer builds (tests/native/CMakeLists.txt).
  host_tests build-asan tests/test_lifecycle.py tests/test_realtime.py -k "not alloc"
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

if [[ $which == tsan || $which == all ]]; then
  echo "== TSan"
  build_tree build-tsan thread
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$suppressions.tsan"
  (cd build-tsan && ctest --output-on-failure -R "worker|reset|switch|publish|thread|underrun|restart|rt_host")
  # TSan sees the waits itself, so the host's wait counter is off: the tests that need a
  # count above zero are left to the plain build.
  host_tests build-tsan tests/test_lifecycle.py -k "not wait_counter and not offline_preset_change"
  unset TSAN_OPTIONS
fi
echo "sanitizers: no reports"
