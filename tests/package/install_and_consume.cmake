# Run by ctest: cmake -DEVENTSTORE_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=...
#                     -DGENERATOR=... -DCXX_COMPILER=... -DBUILD_TYPE=... -P install_and_consume.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var EVENTSTORE_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_and_consume.cmake needs -D${var}=...")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${step} failed (${result}):\n${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# 1. Install the library as a user would.
run("install" ${CMAKE_COMMAND} --install ${EVENTSTORE_BUILD_DIR} --prefix ${prefix})
file(GLOB_RECURSE config_files ${prefix}/*/eventstoreConfig.cmake)
if(NOT config_files)
  message(FATAL_ERROR "the install has no eventstoreConfig.cmake under ${prefix}")
endif()
if(NOT EXISTS ${prefix}/include/eventstore/eventstore.h)
  message(FATAL_ERROR "the install has no include/eventstore/eventstore.h")
endif()

# 2. Configure and build the consumer against the installed copy only (no package registry, no
#    build tree).
set(configure_args -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(CXX_COMPILER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(BUILD_TYPE)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
run("consumer configure" ${CMAKE_COMMAND} ${configure_args})
file(STRINGS ${consumer_build}/CMakeCache.txt found_dir REGEX "^eventstore_DIR:")
string(FIND "${found_dir}" "${prefix}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the consumer found eventstore outside the install prefix: ${found_dir}")
endif()
run("consumer build" ${CMAKE_COMMAND} --build ${consumer_build})

# 3. Run it.
run("consumer run" ${consumer_build}/eventstore_consumer)
if(NOT step_output MATCHES "consumer ok: version 1")
  message(FATAL_ERROR "unexpected consumer output: ${step_output}")
endif()
message(STATUS "${step_output}")
run("projection consumer run" ${consumer_build}/eventstore_projection_consumer)
if(NOT step_output MATCHES "projection consumer ok: position 2")
  message(FATAL_ERROR "unexpected projection consumer output: ${step_output}")
endif()
message(STATUS "${step_output}")
