#include "ModelLocator.h"

namespace timbrel
{
juce::File ModelLocator::userFolder()
{
#if JUCE_LINUX || JUCE_BSD
    const auto xdg = juce::SystemStats::getEnvironmentVariable ("XDG_DATA_HOME", {});
    const auto base = xdg.isNotEmpty() ? juce::File (xdg) : juce::File ("~/.local/share");
    return base.getChildFile ("Timbrel").getChildFile ("models");
#else
    return juce::File::getSpecialLocation (juce::File::userApplicationDataDirectory).getChildFile ("Timbrel").getChildFile ("models");
#endif
}

juce::Array<juce::File> ModelLocator::searchFolders()
{
    // For a plugin this is the plugin's own shared library (JUCE asks the dynamic loader).
    const auto binaryFolder = juce::File::getSpecialLocation (juce::File::currentExecutableFile).getParentDirectory();
    juce::Array<juce::File> folders {
        binaryFolder.getSiblingFile ("Resources").getChildFile ("models"), // VST3 bundle, macOS bundles
        binaryFolder.getChildFile ("models"),                              // LV2 bundle, Standalone folder
        userFolder(),
    };
#if JUCE_LINUX || JUCE_BSD
    folders.add (juce::File ("/usr/share/timbrel/models"));
    folders.add (juce::File ("/usr/local/share/timbrel/models"));
#endif
    return folders;
}

juce::File ModelLocator::resolve (const juce::String& reference)
{
    if (reference.isEmpty())
        return {};
    if (juce::File::isAbsolutePath (reference))
        return juce::File (reference);
    for (const auto& folder : searchFolders())
        if (const auto candidate = folder.getChildFile (reference + ".ts"); candidate.existsAsFile())
            return candidate;
    return {};
}

juce::StringArray ModelLocator::listModels()
{
    juce::StringArray names;
    for (const auto& folder : searchFolders())
        for (const auto& file : folder.findChildFiles (juce::File::findFiles, false, "*.ts"))
            names.addIfNotAlreadyThere (file.getFileNameWithoutExtension());
    names.sortNatural();
    return names;
}

juce::String ModelLocator::defaultReference()
{
    for (const auto& folder : searchFolders())
        if (const auto file = folder.getChildFile ("DEFAULT"); file.existsAsFile())
            return file.loadFileAsString().trim();
    return {};
}
} // namespace timbrel
