# Sanitizer and fuzzing instrumentation for every target (scripts/sanitize.sh, scripts/fuzz.sh).
#
# RMAAT_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer, frame pointers kept for readable stacks,
# every UB finding fatal (-fno-sanitize-recover), so a test that trips one fails instead of printing a
# line nobody reads, and assertions on whatever the build type (-UNDEBUG: Eigen checks its indices).
# gcc or clang.
# RMAAT_FUZZ: the same, plus libFuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link) for the
# libraries; the fuzz targets (fuzz/CMakeLists.txt) link libFuzzer's main. clang only.
if(RMAAT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RMAAT_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang "
                        "(bash scripts/setup.sh --dev installs clang and libclang-rt-14-dev)")
  endif()
  set(RMAAT_SANITIZE ON)
  add_compile_options(-fsanitize=fuzzer-no-link
                      -fsanitize-coverage-ignorelist=${CMAKE_SOURCE_DIR}/fuzz/coverage_ignore.txt)
endif()

if(RMAAT_SANITIZE)
  set(RMAAT_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${RMAAT_SANITIZER_FLAGS} -g -UNDEBUG)
  # Under ASan (__SANITIZE_ADDRESS__) Eigen stops trusting malloc's 16-byte alignment and allocates with
  # an offset of its own, while the uninstrumented libceres frees with plain free: an Eigen function
  # instantiated in both (the executable's copy wins) then frees a block the other allocated (ASan:
  # bad-free in ceres::internal::CovarianceImpl). ASan's malloc is 16-byte aligned on x86-64 like glibc's,
  # so keep Eigen's production choice.
  add_compile_definitions(EIGEN_MALLOC_ALREADY_ALIGNED=1)
  add_link_options(${RMAAT_SANITIZER_FLAGS})
  message(STATUS "Sanitizers: ${RMAAT_SANITIZER_FLAGS}")
endif()
