; Inno Setup script: installs both plugins (Timbrel, TimbrelSynth) as VST3 into Common Files\VST3
; and the Standalone apps into Program Files\Timbrel, each bundle carrying libtorch's DLLs and the
; models (assembled by scripts/assemble_dist.cmake).
;   cmake --build build-windows --config Release --target Timbrel_All TimbrelSynth_All
;   cmake -DBUILD_DIR=build-windows -DDIST_DIR=dist-windows -DPYTHON=.venv\Scripts\python.exe -P scripts\assemble_dist.cmake
;   iscc installer\windows\timbrel.iss            (or iscc /DDist=<folder> /DAppVersion=<x.y.z> ...)
; UNTESTED: no Windows machine has run this (installer/README.md); .github/workflows/windows.yml
; runs it. The bundles need the Visual C++ 2015-2022 runtime (VCRUNTIME140*.dll, MSVCP140.dll),
; which hosts and most machines have; it is not bundled.
; How the VST3 finds libtorch's DLLs inside its bundle: docs/platforms.md (a loader stub,
; plugin/platform/WindowsVst3Loader.cpp).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Dist
  #define Dist "..\..\dist-windows"
#endif

[Setup]
AppId={{6B1F3C52-8E0A-4C55-9A53-2D0F6C7B1E11}
AppName=Timbrel
AppVersion={#AppVersion}
AppPublisher=Timbrel
DefaultDirName={autopf}\Timbrel
DisableDirPage=yes
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64
ArchitecturesInstallIn64BitMode=x64
OutputBaseFilename=Timbrel-{#AppVersion}-windows-x64
OutputDir=..\..\packages
LicenseFile=..\..\LICENSE
Compression=lzma2
SolidCompression=yes

[Files]
Source: "{#Dist}\Timbrel.vst3\*"; DestDir: "{commoncf64}\VST3\Timbrel.vst3"; Flags: recursesubdirs ignoreversion
Source: "{#Dist}\TimbrelSynth.vst3\*"; DestDir: "{commoncf64}\VST3\TimbrelSynth.vst3"; Flags: recursesubdirs ignoreversion
Source: "{#Dist}\Timbrel\*"; DestDir: "{app}\Timbrel"; Flags: recursesubdirs ignoreversion
Source: "{#Dist}\TimbrelSynth\*"; DestDir: "{app}\TimbrelSynth"; Flags: recursesubdirs ignoreversion
Source: "..\..\THIRD_PARTY_NOTICES.md"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\Timbrel"; Filename: "{app}\Timbrel\Timbrel.exe"
Name: "{autoprograms}\Timbrel Synth"; Filename: "{app}\TimbrelSynth\TimbrelSynth.exe"
