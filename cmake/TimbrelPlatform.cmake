# Timbrel's platform facts in one place: which plugin formats each platform builds, which libtorch
# libraries travel inside each bundle, where they go, how the plugin binary finds them (rpath,
# loader path or a Windows loader), and the bundle layouts that scripts/assemble_dist.cmake fills.
#
#   timbrel_platform_facts(<Linux|Darwin|Windows> <prefix>)
#       Pure: sets <prefix>_* variables in the caller's scope and touches no target, so a
#       `cmake -P` script can ask for any platform on any machine (tests/cmake/check_platform.cmake
#       does, for all three, on Linux).
#   timbrel_platform_configure_plugin(<juce shared-code target>)
#       Applies the facts of the platform being built (CMAKE_SYSTEM_NAME) to a juce_add_plugin
#       target's format targets. Linux: nothing (scripts/assemble_dist.sh sets RUNPATH $ORIGIN
#       and copies the libraries, as before).
#   timbrel_platform_configure_engine(<target>)
#       MSVC only: the engine's GCC-style warning flags (-Wall -Wextra) become /W3.
#
# Linux is what this project builds and tests. The macOS and Windows facts are checked here
# against the pinned torch wheels of those platforms (tests/test_platforms.py, make
# check-platforms), but no Mac or Windows machine has built them (docs/platforms.md).
include_guard(GLOBAL)

get_filename_component(TIMBREL_PLATFORM_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

# How the Windows VST3 finds libtorch's DLLs inside its bundle (Windows resolves a DLL's imports
# from the host's folder, System32 and PATH, never from the importing DLL's own folder):
#   loader    the bundle's Timbrel.vst3 is a small stub (plugin/platform/WindowsVst3Loader.cpp)
#             that loads the real plugin, TimbrelImpl.dll beside it, by full path with
#             LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, so its torch imports come from that folder.
#   delayload the plugin binary links torch.dll, torch_cpu.dll and c10.dll with /DELAYLOAD and
#             plugin/platform/WindowsDllPath.cpp's delay-load hook loads them from the plugin's
#             folder. Likely to fail to link (LNK1194): c10.lib and torch_cpu.lib export data
#             symbols (vtables of torch::jit::Method, c10::Allocator, ...) that the engine's code
#             uses, and data imports cannot be delay-loaded (docs/platforms.md).
if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(TIMBREL_WINDOWS_TORCH_LOADING "loader" CACHE STRING "Windows VST3: how libtorch's DLLs are found: loader or delayload")
  set_property(CACHE TIMBREL_WINDOWS_TORCH_LOADING PROPERTY STRINGS loader delayload)
endif()

function(timbrel_platform_facts platform prefix)
  # Bundle layouts, one list per format: artefact (under <artefacts>/<FORMAT>/), destination in
  # dist, the dist item's root, then relative to that root the plugin binary, the folder the
  # libraries go to and the models folder (plugin/source/ModelLocator.cpp looks in
  # <binary folder>/../Resources/models and <binary folder>/models). <NAME> is the product name.
  set(sign "")
  set(delayload "")
  set(keep_loaded "")
  set(sources "")
  if(platform STREQUAL "Linux")
    set(formats VST3 Standalone LV2)
    # scripts/assemble_dist.sh copies these (plus libsamplerate.so.0 from the system) and sets
    # RUNPATH $ORIGIN with patchelf.
    set(libs libtorch.so libtorch_cpu.so libc10.so libgomp.so.1)
    set(rpath "$ORIGIN")
    set(rpath_tool patchelf)
    set(keep_loaded "LINKER:-z,nodelete")
    set(layout_VST3 "<NAME>.vst3" "<NAME>.vst3" "<NAME>.vst3" "Contents/x86_64-linux/<NAME>.so" "Contents/x86_64-linux" "Contents/Resources/models")
    set(layout_LV2 "<NAME>.lv2" "<NAME>.lv2" "<NAME>.lv2" "lib<NAME>.so" "." "models")
    set(layout_Standalone "<NAME>" "<NAME>/<NAME>" "<NAME>" "<NAME>" "." "models")
  elseif(platform STREQUAL "Darwin")
    set(formats VST3 Standalone AU)
    # The closure of libtorch's own dependencies in the macOS arm64 wheel (install names
    # @rpath/...; each library's own rpath is @loader_path, so they find one another).
    set(libs libtorch.dylib libtorch_cpu.dylib libc10.dylib libomp.dylib)
    set(rpath "@loader_path/../Frameworks")
    set(rpath_tool install_name_tool)
    set(sign "codesign --force --deep --sign -")   # ad hoc; not notarised
    set(sources plugin/platform/MacKeepLoaded.cpp)  # the -z nodelete of Linux
    set(layout_VST3 "<NAME>.vst3" "<NAME>.vst3" "<NAME>.vst3" "Contents/MacOS/<NAME>" "Contents/Frameworks" "Contents/Resources/models")
    set(layout_AU "<NAME>.component" "<NAME>.component" "<NAME>.component" "Contents/MacOS/<NAME>" "Contents/Frameworks" "Contents/Resources/models")
    set(layout_Standalone "<NAME>.app" "<NAME>.app" "<NAME>.app" "Contents/MacOS/<NAME>" "Contents/Frameworks" "Contents/Resources/models")
  elseif(platform STREQUAL "Windows")
    set(formats VST3 Standalone)
    # torch.dll, torch_cpu.dll, c10.dll and what they import from the wheel's torch/lib
    # (uv.dll, libiomp5md.dll). The MSVC runtime (VCRUNTIME140*.dll, MSVCP140.dll) comes from
    # the system: the Visual C++ 2015-2022 redistributable.
    set(libs torch.dll torch_cpu.dll c10.dll uv.dll libiomp5md.dll)
    set(rpath "")
    set(rpath_tool "")
    set(delayload torch.dll torch_cpu.dll c10.dll)
    set(sources plugin/platform/WindowsDllPath.cpp)
    set(layout_VST3 "<NAME>.vst3" "<NAME>.vst3" "<NAME>.vst3" "Contents/x86_64-win/<NAME>.vst3" "Contents/x86_64-win" "Contents/Resources/models")
    set(layout_Standalone "<NAME>.exe" "<NAME>/<NAME>.exe" "<NAME>" "<NAME>.exe" "." "models")
  else()
    message(FATAL_ERROR "timbrel_platform_facts: unknown platform '${platform}' (Linux, Darwin or Windows)")
  endif()

  set(${prefix}_PLATFORM "${platform}" PARENT_SCOPE)
  set(${prefix}_FORMATS ${formats} PARENT_SCOPE)
  set(${prefix}_TORCH_LIBS ${libs} PARENT_SCOPE)
  set(${prefix}_RPATH "${rpath}" PARENT_SCOPE)
  set(${prefix}_RPATH_TOOL "${rpath_tool}" PARENT_SCOPE)
  set(${prefix}_SIGN "${sign}" PARENT_SCOPE)
  set(${prefix}_DELAYLOAD ${delayload} PARENT_SCOPE)
  set(${prefix}_KEEP_LOADED_LINK_OPTION "${keep_loaded}" PARENT_SCOPE)
  set(${prefix}_SOURCES ${sources} PARENT_SCOPE)
  foreach(format IN LISTS formats)
    list(GET layout_${format} 0 artefact)
    list(GET layout_${format} 1 dest)
    list(GET layout_${format} 2 root)
    list(GET layout_${format} 3 binary)
    list(GET layout_${format} 4 libdir)
    list(GET layout_${format} 5 models)
    set(${prefix}_${format}_ARTEFACT "${artefact}" PARENT_SCOPE)
    set(${prefix}_${format}_DEST "${dest}" PARENT_SCOPE)
    set(${prefix}_${format}_ROOT "${root}" PARENT_SCOPE)
    set(${prefix}_${format}_BINARY "${binary}" PARENT_SCOPE)
    set(${prefix}_${format}_LIBDIR "${libdir}" PARENT_SCOPE)
    set(${prefix}_${format}_MODELS "${models}" PARENT_SCOPE)
  endforeach()
endfunction()

# The Windows VST3 of <shared_target>: JUCE's binary is renamed <NAME>Impl.dll and the bundle's
# <NAME>.vst3 becomes a stub that loads it by full path (TIMBREL_WINDOWS_TORCH_LOADING=loader).
function(_timbrel_add_windows_vst3_loader shared_target)
  set(vst3 ${shared_target}_VST3)
  get_target_property(product ${shared_target} JUCE_PRODUCT_NAME)
  get_target_property(bundle_binary_dir ${vst3} LIBRARY_OUTPUT_DIRECTORY)
  set_target_properties(${vst3} PROPERTIES OUTPUT_NAME "${product}Impl" SUFFIX ".dll")
  set(loader ${shared_target}_VST3Loader)
  add_library(${loader} MODULE "${TIMBREL_PLATFORM_ROOT}/plugin/platform/WindowsVst3Loader.cpp")
  set_target_properties(${loader} PROPERTIES
    OUTPUT_NAME "${product}" PREFIX "" SUFFIX ".vst3"
    LIBRARY_OUTPUT_DIRECTORY "${bundle_binary_dir}")
  add_dependencies(${loader} ${vst3})
  if(TARGET ${shared_target}_All)
    add_dependencies(${shared_target}_All ${loader})
  endif()
endfunction()

# Drops the ELF-only link options (LINKER:-z,...) plugin/CMakeLists.txt gives the format
# targets: Apple's and Microsoft's linkers reject them.
function(_timbrel_drop_elf_link_options target)
  get_target_property(options ${target} LINK_OPTIONS)
  if(options)
    list(FILTER options EXCLUDE REGEX "^LINKER:-z,")
    set_property(TARGET ${target} PROPERTY LINK_OPTIONS "${options}")
  endif()
endfunction()

function(timbrel_platform_configure_plugin shared_target)
  timbrel_platform_facts("${CMAKE_SYSTEM_NAME}" tp)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    return()
  endif()
  foreach(format IN LISTS tp_FORMATS)
    set(target ${shared_target}_${format})
    if(NOT TARGET ${target})
      continue()
    endif()
    _timbrel_drop_elf_link_options(${target})
    foreach(source IN LISTS tp_SOURCES)
      target_sources(${target} PRIVATE "${TIMBREL_PLATFORM_ROOT}/${source}")
    endforeach()
    if(CMAKE_SYSTEM_NAME STREQUAL "Darwin")
      # The binary finds libtorch in <bundle>/Contents/Frameworks wherever the bundle is
      # installed (scripts/assemble_dist.cmake copies the libraries there and signs ad hoc).
      set_target_properties(${target} PROPERTIES
        BUILD_WITH_INSTALL_RPATH ON
        INSTALL_RPATH "${tp_RPATH}")
    elseif(CMAKE_SYSTEM_NAME STREQUAL "Windows")
      if(TIMBREL_WINDOWS_TORCH_LOADING STREQUAL "delayload")
        foreach(dll IN LISTS tp_DELAYLOAD)
          target_link_options(${target} PRIVATE "/DELAYLOAD:${dll}")
        endforeach()
        target_link_libraries(${target} PRIVATE delayimp)
      elseif(format STREQUAL "VST3")
        _timbrel_add_windows_vst3_loader(${shared_target})
      endif()
      # The Standalone needs neither: an executable's own folder comes first in the search.
    endif()
  endforeach()
endfunction()

function(timbrel_platform_configure_engine target)
  if(MSVC AND TARGET ${target})
    get_target_property(options ${target} COMPILE_OPTIONS)
    if(options)
      list(REMOVE_ITEM options -Wall -Wextra)
      list(APPEND options /W3)
      set_property(TARGET ${target} PROPERTY COMPILE_OPTIONS "${options}")
    endif()
  endif()
endfunction()
