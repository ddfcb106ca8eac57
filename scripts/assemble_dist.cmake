# Self-contained plugin bundles for macOS and Windows: the counterpart of scripts/assemble_dist.sh
# (Linux). For each plugin (Timbrel, TimbrelSynth) and each format of the platform it copies
# JUCE's artefact into DIST_DIR, libtorch from the torch wheel into the bundle (macOS:
# Contents/Frameworks, found through the binary's @loader_path/../Frameworks rpath; Windows:
# beside the binary in Contents/x86_64-win), the models into the bundle's models folder, and on
# macOS bundles the Homebrew libraries the binary links (libsamplerate) and signs each bundle ad
# hoc. The layouts and library lists are cmake/TimbrelPlatform.cmake's.
#
#   cmake -DBUILD_DIR=build -DDIST_DIR=dist -DPYTHON=.venv/bin/python -P scripts/assemble_dist.cmake
# Optional: -DTORCH_LIB=<torch/lib folder> instead of PYTHON, -DCONFIG=Release,
# -DPLUGINS="Timbrel;TimbrelSynth", -DPLATFORM=Darwin|Windows (default: this machine's),
# -DRUN_TOOLS=OFF (print the codesign/otool/install_name_tool commands instead of running them:
# tests/test_platforms.py assembles a macOS and a Windows layout that way on Linux).
#
# UNTESTED on a Mac or a Windows machine (docs/platforms.md); the layouts are checked on Linux.
cmake_minimum_required(VERSION 3.22)
include("${CMAKE_CURRENT_LIST_DIR}/../cmake/TimbrelPlatform.cmake")

foreach(required BUILD_DIR DIST_DIR)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "usage: cmake -DBUILD_DIR=build -DDIST_DIR=dist -DPYTHON=<venv python> -P scripts/assemble_dist.cmake")
  endif()
endforeach()
if(NOT DEFINED PLATFORM)
  set(PLATFORM "${CMAKE_HOST_SYSTEM_NAME}")
endif()
if(NOT DEFINED CONFIG)
  set(CONFIG Release)
endif()
if(NOT DEFINED PLUGINS)
  set(PLUGINS Timbrel TimbrelSynth)
endif()
if(NOT DEFINED RUN_TOOLS)
  set(RUN_TOOLS ON)
endif()
if(PLATFORM STREQUAL "Linux")
  message(FATAL_ERROR "Linux bundles are assembled by scripts/assemble_dist.sh (make build)")
endif()
if(NOT DEFINED TORCH_LIB)
  if(NOT DEFINED PYTHON)
    message(FATAL_ERROR "assemble_dist: give -DPYTHON=<the venv's python> or -DTORCH_LIB=<torch/lib>")
  endif()
  execute_process(
    COMMAND "${PYTHON}" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"
    OUTPUT_VARIABLE TORCH_LIB OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "assemble_dist: torch is not importable from ${PYTHON}")
  endif()
endif()
get_filename_component(root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
get_filename_component(BUILD_DIR "${BUILD_DIR}" ABSOLUTE)
get_filename_component(DIST_DIR "${DIST_DIR}" ABSOLUTE)

timbrel_platform_facts("${PLATFORM}" tp)

# A tool run (or, with RUN_TOOLS=OFF, printed as "would run: ...").
function(run_tool)
  string(JOIN " " line ${ARGN})
  if(RUN_TOOLS)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE status ERROR_VARIABLE error)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "assemble_dist: '${line}' failed: ${error}")
    endif()
  else()
    message(STATUS "assemble_dist: would run: ${line}")
  endif()
endfunction()

# Hard links from the staging folders (not from the venv, which codesign must not touch), copies
# where the file system has none.
function(link_into files folder)
  file(MAKE_DIRECTORY "${folder}")
  foreach(file IN LISTS files)
    get_filename_component(name "${file}" NAME)
    file(REMOVE "${folder}/${name}")
    file(CREATE_LINK "${file}" "${folder}/${name}" COPY_ON_ERROR)
  endforeach()
endfunction()

# macOS: libraries the binary links from outside the system and the bundle (Homebrew's
# libsamplerate) are copied into the bundle and relinked as @rpath/<name>; the rpath is checked.
function(bundle_external_dylibs binary libdir)
  if(NOT RUN_TOOLS)
    message(STATUS "assemble_dist: would copy the non-system libraries of ${binary} (otool -L) into ${libdir}")
    return()
  endif()
  execute_process(COMMAND otool -L "${binary}" OUTPUT_VARIABLE listing RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "assemble_dist: otool -L ${binary} failed")
  endif()
  string(REPLACE "\n" ";" lines "${listing}")
  list(REMOVE_AT lines 0) # "<binary>:"
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*([^ \t]+) \\(.*$" "\\1" dependency "${line}")
    if(dependency STREQUAL "" OR dependency MATCHES "^(@|/usr/lib/|/System/)")
      continue()
    endif()
    get_filename_component(name "${dependency}" NAME)
    get_filename_component(real "${dependency}" REALPATH)
    file(COPY_FILE "${real}" "${libdir}/${name}")
    file(CHMOD "${libdir}/${name}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    run_tool(install_name_tool -id "@rpath/${name}" "${libdir}/${name}")
    run_tool(install_name_tool -change "${dependency}" "@rpath/${name}" "${binary}")
    message(STATUS "assemble_dist: bundled ${dependency} as @rpath/${name}")
  endforeach()
  execute_process(COMMAND otool -l "${binary}" OUTPUT_VARIABLE commands)
  if(NOT commands MATCHES "path ${tp_RPATH} ")
    run_tool(install_name_tool -add_rpath "${tp_RPATH}" "${binary}")
  endif()
endfunction()

set(stage "${DIST_DIR}.tmp")
file(REMOVE_RECURSE "${stage}")
file(MAKE_DIRECTORY "${stage}/.libs" "${stage}/.models")

# libtorch, copied once.
set(staged_libs "")
foreach(lib IN LISTS tp_TORCH_LIBS)
  if(NOT EXISTS "${TORCH_LIB}/${lib}")
    message(FATAL_ERROR "assemble_dist: ${TORCH_LIB}/${lib} is missing (is this the ${PLATFORM} torch wheel?)")
  endif()
  file(COPY "${TORCH_LIB}/${lib}" DESTINATION "${stage}/.libs")
  list(APPEND staged_libs "${stage}/.libs/${lib}")
endforeach()

# The shipped models and the build-time test model, as scripts/assemble_dist.sh ships them.
if(NOT EXISTS "${BUILD_DIR}/models/timbrel-test.ts")
  message(FATAL_ERROR "assemble_dist: ${BUILD_DIR}/models/timbrel-test.ts is missing (build first)")
endif()
file(GLOB shipped_models "${root}/models/*.ts" "${root}/models/*.json" "${root}/models/*.md" "${root}/models/DEFAULT")
file(COPY "${BUILD_DIR}/models/timbrel-test.ts" ${shipped_models} DESTINATION "${stage}/.models")
file(GLOB staged_models "${stage}/.models/*")

set(roots "")
foreach(name IN LISTS PLUGINS)
  set(artefacts "${BUILD_DIR}/plugin/${name}_artefacts/${CONFIG}")
  foreach(format IN LISTS tp_FORMATS)
    foreach(field ARTEFACT DEST ROOT BINARY LIBDIR MODELS)
      string(REPLACE "<NAME>" "${name}" ${field} "${tp_${format}_${field}}")
    endforeach()
    set(source "${artefacts}/${format}/${ARTEFACT}")
    if(NOT EXISTS "${source}")
      message(FATAL_ERROR "assemble_dist: ${source} is missing (build the ${name}_All target first)")
    endif()
    get_filename_component(dest_parent "${stage}/${DEST}" DIRECTORY)
    file(MAKE_DIRECTORY "${dest_parent}")
    file(COPY "${source}" DESTINATION "${dest_parent}")
    get_filename_component(copied_name "${source}" NAME)
    get_filename_component(dest_name "${DEST}" NAME)
    if(NOT copied_name STREQUAL dest_name)
      file(RENAME "${dest_parent}/${copied_name}" "${stage}/${DEST}")
    endif()
    set(item "${stage}/${ROOT}")
    if(NOT EXISTS "${item}/${BINARY}")
      message(FATAL_ERROR "assemble_dist: no plugin binary at ${item}/${BINARY}")
    endif()
    if(PLATFORM STREQUAL "Windows") # the linker's by-products, if any landed beside the binary
      file(GLOB by_products "${item}/${LIBDIR}/*.lib" "${item}/${LIBDIR}/*.exp" "${item}/${LIBDIR}/*.ilk" "${item}/${LIBDIR}/*.pdb")
      if(by_products)
        file(REMOVE ${by_products})
      endif()
    endif()
    link_into("${staged_libs}" "${item}/${LIBDIR}")
    link_into("${staged_models}" "${item}/${MODELS}")
    if(PLATFORM STREQUAL "Darwin")
      bundle_external_dylibs("${item}/${BINARY}" "${item}/${LIBDIR}")
    endif()
    list(APPEND roots "${item}")
    message(STATUS "assemble_dist: ${ROOT} (${format})")
  endforeach()
endforeach()

# Ad hoc signatures last: copying libraries into a bundle and relinking invalidate the linker's.
if(tp_SIGN)
  separate_arguments(sign_command UNIX_COMMAND "${tp_SIGN}")
  foreach(item IN LISTS roots)
    run_tool(${sign_command} "${item}")
  endforeach()
endif()

file(REMOVE_RECURSE "${stage}/.libs" "${stage}/.models" "${DIST_DIR}")
file(RENAME "${stage}" "${DIST_DIR}")
message(STATUS "assemble_dist: ${PLATFORM} bundles in ${DIST_DIR}")
