# Project-wide compile settings, applied per target through llmux_target_defaults().

# Where the shared test data lives (../shared next to the checkout).
get_filename_component(LLMUX_SHARED_DIR "${CMAKE_SOURCE_DIR}/../shared" ABSOLUTE)

set(LLMUX_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter)

# Compiler cache: ccache keeps objects in ~/.cache/ccache (outside the checkout), so a fresh
# clone on the same machine, at any path, reuses what an earlier build compiled. Paths under the
# checkout's parent are hashed relative to it, and the build directory is not hashed (debug info
# keeps the first compile's path, which only a debugger reads).
option(LLMUX_CCACHE "Compile through ccache when it is installed" ON)
find_program(LLMUX_CCACHE_PROGRAM ccache)
if(LLMUX_CCACHE AND LLMUX_CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  get_filename_component(llmux_ccache_base "${CMAKE_SOURCE_DIR}/.." ABSOLUTE)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${llmux_ccache_base} CCACHE_NOHASHDIR=1
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      ${LLMUX_CCACHE_PROGRAM})
endif()

# lld links the big test and server binaries several times faster than GNU ld.
find_program(LLMUX_LLD ld.lld)
if(LLMUX_LLD)
  add_link_options(-fuse-ld=lld)
endif()

# Sanitizer builds: "address" (ASan + UBSan) or "thread" (TSan). Each builds only the tests that
# name it in llmux_test(... SANITIZERS ...) unless LLMUX_TEST_SET says otherwise.
set(LLMUX_SANITIZE "" CACHE STRING "Sanitizer build: empty, address (ASan+UBSan) or thread (TSan)")
set_property(CACHE LLMUX_SANITIZE PROPERTY STRINGS "" address thread)
if(LLMUX_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(LLMUX_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(NOT LLMUX_SANITIZE STREQUAL "")
  message(FATAL_ERROR "LLMUX_SANITIZE must be empty, address or thread (got '${LLMUX_SANITIZE}')")
endif()
if(LLMUX_SANITIZE)
  # Under the sanitizers GCC 12 reports false warnings: maybe-uninitialized inside libstdc++
  # (<regex>, std::function) and a new/delete mismatch on Asio's coroutine frames. The Release
  # build keeps both warnings.
  add_compile_options(-Wno-maybe-uninitialized -Wno-mismatched-new-delete)
endif()

# Which tests this build defines: "all", or a sanitizer's name for the tests that ask for it.
if(LLMUX_SANITIZE STREQUAL "")
  set(llmux_default_test_set all)
else()
  set(llmux_default_test_set ${LLMUX_SANITIZE})
endif()
set(LLMUX_TEST_SET ${llmux_default_test_set} CACHE STRING "Tests to build: all, address or thread")

# ISA flags for kernel files compiled for one instruction set; the choice is made at
# run time by CPU feature detection. AMX is never enabled: it traps on our machines.
set(LLMUX_AVX2_FLAGS -mavx2 -mfma -mf16c)
set(LLMUX_AVX512_FLAGS -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq
    -mavx512vnni -mavx512bf16 -mno-amx-tile -mno-amx-int8 -mno-amx-bf16)

function(llmux_target_defaults target)
  target_compile_options(${target} PRIVATE ${LLMUX_WARNINGS})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR}/src)
endfunction()

# llmux_in_test_set(VAR SANITIZERS...): VAR is true when this build's test set includes a test
# that runs under the given sanitizers (every test is in the set "all").
function(llmux_in_test_set var)
  if(LLMUX_TEST_SET STREQUAL "all" OR LLMUX_TEST_SET IN_LIST ARGN)
    set(${var} TRUE PARENT_SCOPE)
  else()
    set(${var} FALSE PARENT_SCOPE)
  endif()
endfunction()

# Where every test writes its report (GoogleTest XML, node JUnit); scripts/test reads them.
set(LLMUX_TEST_RESULTS ${CMAKE_BINARY_DIR}/test-results)

# llmux_test(NAME [SANITIZERS address thread] SOURCES... LIBS... [DEFINES...] [OPTIONS...]
#            [DEPENDS...] [TIMEOUT seconds]): a GoogleTest binary, registered with ctest as one
# entry that runs the whole binary, so that a fixture loads once per binary (SetUpTestSuite) and
# not once per test case; each case's result and time are in test-results/NAME.xml. SANITIZERS
# names the sanitizer builds that also run it: tests of what parses or serves untrusted input
# (address) and of what shares state across threads (thread). Outside its build's test set the
# test is not defined at all. DEPENDS names targets the test runs (the llmux binary).
function(llmux_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;SANITIZERS;DEFINES;OPTIONS;DEPENDS" ${ARGN})
  if(T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "llmux_test(${name}): unknown arguments ${T_UNPARSED_ARGUMENTS}")
  endif()
  llmux_in_test_set(wanted ${T_SANITIZERS})
  if(NOT wanted)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  llmux_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} llmux_test_paths GTest::gtest GTest::gtest_main)
  llmux_use_pch(${name} llmux_pch_test)
  # Tests build records with designated initializers and leave the other fields default.
  target_compile_options(${name} PRIVATE -Wno-missing-field-initializers ${T_OPTIONS})
  if(T_DEFINES)
    target_compile_definitions(${name} PRIVATE ${T_DEFINES})
  endif()
  if(T_DEPENDS)
    add_dependencies(${name} ${T_DEPENDS})
  endif()
  # Collected for the target llmux_tests, which builds only what this build tests.
  set_property(GLOBAL APPEND PROPERTY LLMUX_TEST_TARGETS ${name} ${T_DEPENDS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "GTEST_OUTPUT=xml:${LLMUX_TEST_RESULTS}/${name}.xml")
endfunction()
