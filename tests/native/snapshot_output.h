#pragma once
// What the editor snapshot tools (editor_snapshot.cpp, synth_editor_snapshot.cpp) print and
// write, so tests read both editors the same way:
//   label: TEXT            every visible label's text
//   label tooltip: TEXT    a label's tooltip (the model description's whole text)
//   combo: TEXT            a combo box's shown text
//   text: TEXT             a text field ("(placeholder)" when empty, " [disabled]" when greyed out)
//   toggle: TEXT           a toggle button (" [disabled]" when greyed out)
//   tooltip window         the editor shows tooltips (it has a TooltipWindow)
//   map: X Y W H           the timbre map's bounds in the editor
//   map dot: X Y NAME      where each named timbre's dot is drawn
//   map name: X Y W H NAME where each name drawn on the map is (names left out are not listed)
// Coordinates are the editor's pixels. `extra` prints what one tool alone knows about.

#include "EditorParts.h"

#include <juce_gui_basics/juce_gui_basics.h>

#include <functional>
#include <iostream>

namespace timbrel::snapshot
{
inline void printComponents (juce::Component& editor, const std::function<void (juce::Component&)>& extra = {})
{
    std::function<void (juce::Component&)> print = [&] (juce::Component& c) {
        if (dynamic_cast<juce::TooltipWindow*> (&c) != nullptr)
        {
            std::cout << "tooltip window" << std::endl;
            return;
        }
        if (! c.isVisible() && &c != &editor) // the editor itself is on no desktop
            return;
        if (auto* label = dynamic_cast<juce::Label*> (&c); label != nullptr && label->getText().isNotEmpty())
        {
            std::cout << "label: " << label->getText() << std::endl;
            if (label->getTooltip().isNotEmpty())
                std::cout << "label tooltip: " << label->getTooltip() << std::endl;
        }
        if (auto* box = dynamic_cast<juce::ComboBox*> (&c); box != nullptr)
            std::cout << "combo: " << box->getText() << std::endl;
        if (auto* text = dynamic_cast<juce::TextEditor*> (&c); text != nullptr)
            std::cout << "text: " << (text->isEmpty() ? "(" + text->getTextToShowWhenEmpty() + ")" : text->getText())
                      << (text->isEnabled() ? "" : " [disabled]") << std::endl;
        if (auto* button = dynamic_cast<juce::ToggleButton*> (&c); button != nullptr)
            std::cout << "toggle: " << button->getButtonText() << (button->isEnabled() ? "" : " [disabled]") << std::endl;
        if (auto* map = dynamic_cast<TimbreMap*> (&c); map != nullptr && map->getWidth() > 0)
        {
            const auto r = editor.getLocalArea (map, map->getLocalBounds());
            std::cout << "map: " << r.getX() << " " << r.getY() << " " << r.getWidth() << " " << r.getHeight() << std::endl;
            const auto origin = r.getPosition().toFloat();
            const auto& names = map->getTimbreNames();
            for (int i = 0; i < map->numTimbres(); ++i)
            {
                const auto at = map->dotPosition (i) + origin;
                std::cout << "map dot: " << at.x << " " << at.y << " " << names[i] << std::endl;
            }
            for (const auto& name : map->placedNames())
            {
                const auto b = name.bounds + origin;
                std::cout << "map name: " << b.getX() << " " << b.getY() << " " << b.getWidth() << " " << b.getHeight() << " "
                          << names[name.index] << std::endl;
            }
        }
        if (extra)
            extra (c);
        for (auto* child : c.getChildren())
            print (*child);
    };
    print (editor);
}

/** Writes the editor as a PNG; false when the file cannot be written. */
inline bool writePng (juce::Component& editor, const juce::String& path)
{
    const auto image = editor.createComponentSnapshot (editor.getLocalBounds(), true, 1.0f);
    juce::File out (path);
    out.deleteFile();
    juce::FileOutputStream stream (out);
    juce::PNGImageFormat png;
    if (! stream.openedOk() || ! png.writeImageToStream (image, stream))
        return false;
    stream.flush();
    std::cout << "wrote " << path << " (" << image.getWidth() << "x" << image.getHeight() << ")" << std::endl;
    return true;
}
} // namespace timbrel::snapshot
