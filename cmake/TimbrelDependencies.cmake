# Where JUCE (and, off Linux, Catch2 v2) come from. Included by the top-level CMakeLists.txt
# before plugin/ and plugin/engine/ are added (docs/platforms.md).
#
#   1. TIMBREL_JUCE_DIR=<a JUCE 7.0.5 checkout>: that checkout (add_subdirectory).
#   2. otherwise an installed JUCE 7.0.5 package: find_package(JUCE CONFIG), Debian's
#      juce-modules-source on Linux (today's path, unchanged).
#   3. otherwise, or with -DTIMBREL_FETCH_JUCE=ON, the pinned JUCE release below, fetched by
#      FetchContent (the macOS and Windows builds). TIMBREL_DOWNLOAD_CACHE keeps the archive
#      between builds (CI caches that folder).
# Not included by `cmake -P` scripts: it configures targets.
include_guard(GLOBAL)
include(FetchContent)

set(TIMBREL_JUCE_VERSION 7.0.5) # Debian 12's juce-modules-source: one JUCE on every platform
set(TIMBREL_JUCE_URL "https://github.com/juce-framework/JUCE/archive/refs/tags/${TIMBREL_JUCE_VERSION}.tar.gz")
# NOT VERIFIED AGAINST GITHUB'S DOWNLOAD: github.com cannot be reached from the machines this was
# written on. The hash was computed from a snapshot of the JUCE repository (tag 7.0.5 = commit
# 69795dc8e589a9eb5df251b6dd994859bf7b3fab) the way GitHub makes tag tarballs:
#   git archive --format=tar --prefix=JUCE-7.0.5/ 7.0.5 | gzip -cn | sha256sum
# If the first fetch stops with a hash mismatch, check the archive by other means (e.g. compare
# its files with that commit) before changing the hash.
set(TIMBREL_JUCE_SHA256 a44a8545858e298c3e72094ea4219c05d5f29bd36473debc7d7a935b398dc57f)

# Catch2 v2 (the engine tests include <catch2/catch.hpp>): Debian's catch2 on Linux; Homebrew
# and vcpkg ship only v3, so macOS and Windows fetch v2.13.10, Debian's version. Same caveat:
# the hash was computed from a repository snapshot (tag v2.13.10 = commit
# 182c910b4b63ff587a3440e08f84f70497e49a81) with git archive | gzip -cn, not from GitHub.
set(TIMBREL_CATCH2_URL "https://github.com/catchorg/Catch2/archive/refs/tags/v2.13.10.tar.gz")
set(TIMBREL_CATCH2_SHA256 d54a712b7b1d7708bc7a819a8e6e47b2fde9536f487b89ccbca295072a7d9943)

option(TIMBREL_FETCH_JUCE "Build with the pinned JUCE release (FetchContent) even where an installed JUCE is found" OFF)
set(TIMBREL_JUCE_DIR "" CACHE PATH "A JUCE ${TIMBREL_JUCE_VERSION} source checkout to build with (instead of an installed or fetched JUCE)")
set(TIMBREL_DOWNLOAD_CACHE "" CACHE PATH "Folder that keeps downloaded source archives between builds (empty: none)")

if(POLICY CMP0135)
  cmake_policy(SET CMP0135 NEW) # extracted files get the extraction time
endif()

# FetchContent_Declare(<name> URL <url> URL_HASH ...), the archive taken from (and first
# downloaded into) TIMBREL_DOWNLOAD_CACHE when that is set.
function(_timbrel_declare_archive name url sha256)
  set(source "${url}")
  if(TIMBREL_DOWNLOAD_CACHE)
    get_filename_component(file "${url}" NAME)
    set(cached "${TIMBREL_DOWNLOAD_CACHE}/${name}-${file}")
    if(NOT EXISTS "${cached}")
      file(MAKE_DIRECTORY "${TIMBREL_DOWNLOAD_CACHE}")
      file(DOWNLOAD "${url}" "${cached}.part" EXPECTED_HASH SHA256=${sha256} TLS_VERIFY ON STATUS status)
      list(GET status 0 code)
      if(NOT code EQUAL 0)
        file(REMOVE "${cached}.part")
        message(FATAL_ERROR "Downloading ${url} failed: ${status}")
      endif()
      file(RENAME "${cached}.part" "${cached}")
    endif()
    set(source "${cached}")
  endif()
  FetchContent_Declare(${name} URL "${source}" URL_HASH SHA256=${sha256} ${ARGN})
endfunction()

set(TIMBREL_JUCE_SOURCE "")
if(TIMBREL_JUCE_DIR)
  add_subdirectory("${TIMBREL_JUCE_DIR}" "${CMAKE_BINARY_DIR}/_deps/juce-build")
  set(TIMBREL_JUCE_SOURCE "the checkout ${TIMBREL_JUCE_DIR}")
elseif(NOT TIMBREL_FETCH_JUCE)
  find_package(JUCE ${TIMBREL_JUCE_VERSION} CONFIG QUIET)
  if(COMMAND juce_add_plugin)
    set(TIMBREL_JUCE_SOURCE "the installed package in ${JUCE_DIR}")
  endif()
endif()
if(NOT COMMAND juce_add_plugin)
  _timbrel_declare_archive(juce "${TIMBREL_JUCE_URL}" ${TIMBREL_JUCE_SHA256})
  FetchContent_MakeAvailable(juce)
  set(TIMBREL_JUCE_SOURCE "the pinned release ${TIMBREL_JUCE_URL}")
endif()
message(STATUS "Timbrel: JUCE ${TIMBREL_JUCE_VERSION} from ${TIMBREL_JUCE_SOURCE}")

if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  find_package(Catch2 2 QUIET)
  if(NOT Catch2_FOUND)
    if(CMAKE_VERSION VERSION_LESS 3.24)
      message(FATAL_ERROR "The engine tests need Catch2 v2: install it, or use CMake 3.24 or newer to fetch it")
    endif()
    # OVERRIDE_FIND_PACKAGE: plugin/engine's find_package(Catch2 REQUIRED) takes this copy.
    _timbrel_declare_archive(catch2 "${TIMBREL_CATCH2_URL}" ${TIMBREL_CATCH2_SHA256} OVERRIDE_FIND_PACKAGE)
    FetchContent_MakeAvailable(catch2)
    list(APPEND CMAKE_MODULE_PATH "${catch2_SOURCE_DIR}/contrib") # include(Catch)
  endif()
endif()
