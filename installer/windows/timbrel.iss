; Inno Setup script: installs the Timbrel VST3 (with libtorch and the models inside the bundle).
;   iscc installer\windows\timbrel.iss        after building the VST3 on Windows (Release)
; UNTESTED: there is no Windows machine in this project's CI.
; Known gap: Windows looks for a plugin's dependent DLLs beside the host executable, not beside
; the plugin, so libtorch's DLLs inside the bundle are only found if the plugin is linked with
; /DELAYLOAD for them and calls SetDllDirectory / AddDllDirectory on its own folder before the
; first torch call. That is not written yet (see installer/README.md).

#define AppVersion "0.1.0"
#define Build "..\..\build\plugin\Timbrel_artefacts\Release"
#define TorchLib "..\..\.venv\Lib\site-packages\torch\lib"

[Setup]
AppId={{6B1F3C52-8E0A-4C55-9A53-2D0F6C7B1E11}
AppName=Timbrel
AppVersion={#AppVersion}
AppPublisher=Timbrel
DefaultDirName={commoncf64}\VST3\Timbrel.vst3
DisableDirPage=yes
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64
ArchitecturesInstallIn64BitMode=x64
OutputBaseFilename=Timbrel-{#AppVersion}-windows-x64
LicenseFile=..\..\LICENSE
Compression=lzma2
SolidCompression=yes

[Files]
Source: "{#Build}\VST3\Timbrel.vst3\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion
Source: "{#TorchLib}\*.dll"; DestDir: "{app}\Contents\x86_64-win"; Flags: ignoreversion
Source: "..\..\models\*.ts"; DestDir: "{app}\Contents\Resources\models"; Flags: ignoreversion
Source: "..\..\models\*.json"; DestDir: "{app}\Contents\Resources\models"; Flags: ignoreversion
Source: "..\..\models\*.md"; DestDir: "{app}\Contents\Resources\models"; Flags: ignoreversion
Source: "..\..\models\DEFAULT"; DestDir: "{app}\Contents\Resources\models"; Flags: ignoreversion
Source: "..\..\THIRD_PARTY_NOTICES.md"; DestDir: "{app}\Contents\Resources"; Flags: ignoreversion
