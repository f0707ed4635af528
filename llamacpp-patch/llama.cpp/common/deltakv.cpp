#include "deltakv.h"

#include "log.h"

llama_deltakv * common_deltakv_load(const llama_model * model, const common_params::common_params_deltakv & params) {
    llama_deltakv_params dp = llama_deltakv_default_params();
    dp.n_sink                   = params.n_sink;
    dp.n_recent                 = params.n_recent;
    dp.n_neighbors              = params.n_neighbors;
    dp.center_stride            = params.center_stride;
    dp.top_k                    = params.top_k;
    dp.latent_bits              = params.latent_bits;
    dp.full_layers              = params.full_layers.empty() ? nullptr : params.full_layers.data();
    dp.n_full_layers            = (int32_t) params.full_layers.size();
    dp.compress_layers_per_step = params.compress_layers_per_step;
    llama_deltakv * dkv = llama_deltakv_load(model, params.path.c_str(), dp);
    if (dkv == nullptr) {
        COM_ERR("failed to load DeltaKV compressor '%s'\n", params.path.c_str());
    }
    return dkv;
}

void common_deltakv_print_stats(const llama_context * ctx) {
    llama_deltakv_stats dkv;
    if (!llama_deltakv_get_stats(ctx, &dkv)) {
        return;
    }
    const int64_t used = dkv.bytes_full_layers + dkv.bytes_exact_rows + dkv.bytes_latents + dkv.bytes_ref_ids;
    LOG_INF("%s:   DeltaKV tokens = %10lld (%lld compressed, %lld references, %lld recent)\n", __func__,
            (long long) dkv.n_tokens, (long long) dkv.n_compressed, (long long) dkv.n_refs, (long long) dkv.n_raw);
    LOG_INF("%s:    DeltaKV bytes = %10.2f MiB used (full %.2f, exact %.2f, latents %.2f, ids %.2f) = %.1f%% of "
            "stock F16; %.2f MiB allocated = %.1f%% of stock\n", __func__, used / 1048576.0,
            dkv.bytes_full_layers / 1048576.0, dkv.bytes_exact_rows / 1048576.0, dkv.bytes_latents / 1048576.0,
            dkv.bytes_ref_ids / 1048576.0, dkv.bytes_stock ? 100.0 * used / dkv.bytes_stock : 0.0,
            dkv.alloc_bytes / 1048576.0, dkv.alloc_bytes_stock ? 100.0 * dkv.alloc_bytes / dkv.alloc_bytes_stock : 0.0);
}
