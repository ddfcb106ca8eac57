#pragma once
// Words for messages about torch objects, shared by the Timbrel loader (Model.cpp) and the nn~
// loader (NnTildeModule.cpp). Includes torch: engine sources only.

#include <torch/script.h>

#include <string>
#include <string_view>

namespace timbrel
{
/** A tensor's shape as "[1,16,4]". */
inline std::string sizesToString (const at::Tensor& t)
{
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i)
    {
        if (i > 0)
            s += ',';
        s += std::to_string (t.size (i));
    }
    return s + "]";
}

/** TorchScript's errors carry the interpreter's traceback; the last line says what happened
    ("RuntimeError: ..."). A view into the message: nothing is allocated on the playing thread. */
inline std::string_view lastLine (const char* message)
{
    std::string_view text (message != nullptr ? message : "");
    while (! text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
        text.remove_suffix (1);
    const auto newline = text.find_last_of ('\n');
    return newline == std::string_view::npos ? text : text.substr (newline + 1);
}
} // namespace timbrel
