# Project-wide compile settings, applied per target through llmux_target_defaults().

# Where the shared test data lives (../shared next to the checkout).
get_filename_component(LLMUX_SHARED_DIR "${CMAKE_SOURCE_DIR}/../shared" ABSOLUTE)

set(LLMUX_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter)

if(LLMUX_SANITIZE)
  # Under the sanitizers GCC 12's flow analysis reports false maybe-uninitialized warnings
  # inside libstdc++ (<regex>, std::function); the Release build keeps the warning.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
endif()

# ISA flags for kernel files compiled for one instruction set; the choice is made at
# run time by CPU feature detection. AMX is never enabled: it traps on our machines.
set(LLMUX_AVX2_FLAGS -mavx2 -mfma -mf16c)
set(LLMUX_AVX512_FLAGS -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq
    -mavx512vnni -mavx512bf16 -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)

function(llmux_target_defaults target)
  target_compile_options(${target} PRIVATE ${LLMUX_WARNINGS})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR}/src)
endfunction()

# llmux_test(NAME [WHOLE] SOURCES... LIBS ...): a GoogleTest binary registered with ctest,
# one ctest entry per test case, or with WHOLE one entry for the binary (for suites that
# share an expensive fixture per process, such as a database server).
function(llmux_test name)
  cmake_parse_arguments(T "WHOLE" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  llmux_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE LLMUX_SHARED_DIR="${LLMUX_SHARED_DIR}"
                             LLMUX_BINARY_DIR="${CMAKE_BINARY_DIR}")
  if(T_WHOLE)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES TIMEOUT 600)
  else()
    include(GoogleTest)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
  endif()
endfunction()
