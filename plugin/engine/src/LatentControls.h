#pragma once
// The latent knobs' scale and offset, applied to a latent tensor [batch, latents, frames].
// Shared by Timbrel models and nn~ modules. Includes torch: engine sources only.

#include <torch/script.h>

namespace timbrel
{
/** z * scale + offset per latent dimension and frame; the controls are hop-major
    (frames x latents, either may be null). Returns z itself when every control is neutral. */
inline at::Tensor withLatentControls (at::Tensor z, int64_t frames, int64_t latents, const float* offset, const float* scale)
{
    bool touched = false;
    for (int64_t i = 0; i < frames * latents && (offset != nullptr || scale != nullptr) && ! touched; ++i)
        touched = (offset != nullptr && offset[i] != 0.0f) || (scale != nullptr && scale[i] != 1.0f);
    if (! touched)
        return z;
    z = z.contiguous().clone();
    const int64_t batch = z.size (0);
    auto* zp = z.data_ptr<float>();
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < latents; ++i)
            for (int64_t f = 0; f < frames; ++f)
            {
                const int64_t control = f * latents + i;
                float& v = zp[(b * latents + i) * frames + f];
                v = v * (scale != nullptr ? scale[control] : 1.0f) + (offset != nullptr ? offset[control] : 0.0f);
            }
    return z;
}
} // namespace timbrel
