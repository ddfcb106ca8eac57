#pragma once
// Where model files live: shipped inside the bundle, in the user's models folder, or in a
// system folder (Linux packages). A model reference is either an absolute file path or a
// model name looked up as NAME.ts in those folders, in that order.

#include <juce_core/juce_core.h>

namespace timbrel
{
struct ModelLocator
{
    /** Folders searched for models, most specific first. */
    static juce::Array<juce::File> searchFolders();

    /** The user models folder ($XDG_DATA_HOME/Timbrel/models, ~/.local/share/Timbrel/models). */
    static juce::File userFolder();

    /** Resolves a reference to a file; returns a non-existent File when nothing matches. */
    static juce::File resolve (const juce::String& reference);

    /** Every model in the search folders by name (NAME.ts), a name found twice listed once:
        the file that resolve() picks. Sorted by name. */
    static juce::StringArray listModels();

    /** The default model's name: the first DEFAULT file found in the search folders. */
    static juce::String defaultReference();
};
} // namespace timbrel
