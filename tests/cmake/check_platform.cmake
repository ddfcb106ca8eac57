# cmake/TimbrelPlatform.cmake's facts for one platform, written as JSON, whatever machine runs it:
#   cmake -DPLATFORM=Darwin -DOUT=facts.json -P tests/cmake/check_platform.cmake
# tests/test_platforms.py runs it for Linux, Darwin and Windows and checks the answers (formats,
# library names, rpath or loader, bundle layouts) against each other, the Linux scripts and the
# pinned torch wheels.
cmake_minimum_required(VERSION 3.22)
if(NOT DEFINED PLATFORM OR NOT DEFINED OUT)
  message(FATAL_ERROR "usage: cmake -DPLATFORM=<Linux|Darwin|Windows> -DOUT=<file.json> -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/TimbrelPlatform.cmake")
timbrel_platform_facts("${PLATFORM}" f)

# A CMake list as a JSON array of strings.
function(json_array out)
  set(json "[]")
  set(i 0)
  foreach(item IN LISTS ARGN)
    string(JSON json SET "${json}" ${i} "\"${item}\"")
    math(EXPR i "${i} + 1")
  endforeach()
  set(${out} "${json}" PARENT_SCOPE)
endfunction()

set(json "{}")
string(JSON json SET "${json}" platform "\"${f_PLATFORM}\"")
foreach(key FORMATS TORCH_LIBS DELAYLOAD SOURCES)
  json_array(array ${f_${key}})
  string(JSON json SET "${json}" ${key} "${array}")
endforeach()
foreach(key RPATH RPATH_TOOL SIGN KEEP_LOADED_LINK_OPTION)
  string(JSON json SET "${json}" ${key} "\"${f_${key}}\"")
endforeach()
set(layouts "{}")
foreach(format IN LISTS f_FORMATS)
  set(layout "{}")
  foreach(field ARTEFACT DEST ROOT BINARY LIBDIR MODELS)
    string(JSON layout SET "${layout}" ${field} "\"${f_${format}_${field}}\"")
  endforeach()
  string(JSON layouts SET "${layouts}" ${format} "${layout}")
endforeach()
string(JSON json SET "${json}" LAYOUTS "${layouts}")
file(WRITE "${OUT}" "${json}\n")
