#pragma once
// The timbre and the latent knobs, applied to a latent tensor [batch, latents, frames]: the
// snapshot blended in, then each knob's scale and offset, along the model's principal axes
// when it has them. Shared by Timbrel models and nn~ modules. Includes torch: engine sources only.

#include <torch/script.h>

namespace timbrel
{
/** A copy of z [batch, latents, frames] with `change (value, latent, frame)` applied to every value. */
template <typename Change>
at::Tensor changedCopy (const at::Tensor& z, int64_t frames, int64_t latents, Change change)
{
    auto out = z.contiguous().clone();
    const int64_t batch = out.size (0);
    auto* values = out.data_ptr<float>();
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < latents; ++i)
            for (int64_t f = 0; f < frames; ++f)
                change (values[(b * latents + i) * frames + f], i, f);
    return out;
}

/** z + weight * (snapshot - z) per frame: `weight` holds one value per frame, `snapshot` is
    hop-major (frames x latents). Returns z itself when every weight is 0 (or either is null). */
inline at::Tensor withTimbre (at::Tensor z, int64_t frames, int64_t latents, const float* weight, const float* snapshot)
{
    bool touched = false;
    for (int64_t f = 0; f < frames && weight != nullptr && snapshot != nullptr && ! touched; ++f)
        touched = weight[f] != 0.0f;
    if (! touched)
        return z;
    return changedCopy (z, frames, latents, [&] (float& v, int64_t i, int64_t f) { v += weight[f] * (snapshot[f * latents + i] - v); });
}

/** z * scale + offset per latent dimension and frame; the controls are hop-major
    (frames x latents, either may be null). With principal axes (`mean` [latents] and
    `components` [latents, latents], orthonormal rows, both defined) knob i acts on the
    coordinate along axis i instead of on dimension i. Returns z itself when every control is
    neutral. */
inline at::Tensor withLatentControls (at::Tensor z, int64_t frames, int64_t latents, const float* offset, const float* scale,
                                      const at::Tensor& mean = {}, const at::Tensor& components = {})
{
    bool touched = false;
    for (int64_t i = 0; i < frames * latents && (offset != nullptr || scale != nullptr) && ! touched; ++i)
        touched = (offset != nullptr && offset[i] != 0.0f) || (scale != nullptr && scale[i] != 1.0f);
    if (! touched)
        return z;
    const bool alongAxes = mean.defined() && components.defined();
    if (alongAxes) // coordinates p = C (z - mean), [batch, latents, frames]
        z = torch::matmul (components, z - mean.reshape ({ 1, latents, 1 }));
    z = changedCopy (z, frames, latents, [&] (float& v, int64_t i, int64_t f) {
        const int64_t control = f * latents + i;
        v = v * (scale != nullptr ? scale[control] : 1.0f) + (offset != nullptr ? offset[control] : 0.0f);
    });
    if (alongAxes) // back: z = C^T p + mean
        z = torch::matmul (components.t(), z) + mean.reshape ({ 1, latents, 1 });
    return z;
}
} // namespace timbrel
