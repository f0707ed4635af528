#include "llama-deltakv-store.h"

#include "llama-impl.h"
#include "llama-model.h"

#include <algorithm>
#include <stdexcept>

ggml_type llama_deltakv_latent_type(const llama_deltakv & dkv) {
    return dkv.latent_bits == 4 ? GGML_TYPE_Q4_1 : dkv.latent_bits == 8 ? GGML_TYPE_Q8_0 : GGML_TYPE_F16;
}

llama_deltakv_store::llama_deltakv_store(const llama_model & model, const llama_deltakv & dkv, bool offload,
                                         uint32_t kv_size, uint32_t n_seq_max, uint32_t n_batch) {
    const auto & hparams = model.hparams;

    // exact rows: every reference the context can hold, then per sequence the sink and a full raw buffer,
    // then one call's worth of new tokens (compression runs between calls)
    const uint64_t refs_bound = ((uint64_t) kv_size + dkv.n_recent - 1) / dkv.n_recent *
                                (((uint64_t) dkv.n_recent + dkv.center_stride - 1) / dkv.center_stride);
    const uint64_t want = refs_bound + (uint64_t) n_seq_max * (dkv.n_sink + 2 * dkv.n_recent) + n_batch;
    n_exact = (uint32_t) std::min<uint64_t>(want, kv_size);
    // latent slots: only the non-center tokens of compressed blocks (a block of E has ceil(E / stride) centers)
    n_slots = (uint32_t) (((uint64_t) kv_size * (dkv.center_stride - 1) + dkv.center_stride - 1) / dkv.center_stride);

    const ggml_type t_lat = llama_deltakv_latent_type(dkv);
    if (dkv.latent_bits != 16 && dkv.latent_group != 32) {
        throw std::runtime_error(format("int%u latents are stored as %s (group 32) in this build; the compressor "
                                        "asks for group %u", dkv.latent_bits, ggml_type_name(t_lat), dkv.latent_group));
    }
    if (dkv.latent_dim % ggml_blck_size(t_lat) != 0) {
        throw std::runtime_error(format("DeltaKV latent_dim %u is not a multiple of %d, needed for %s latents",
                                        dkv.latent_dim, (int) ggml_blck_size(t_lat), ggml_type_name(t_lat)));
    }

    // tensors on each layer's device, one ggml context per buffer type
    std::map<ggml_backend_buffer_type_t, ggml_context *> ctx_of;
    auto ctx_for = [&](ggml_backend_buffer_type_t buft) -> ggml_context * {
        auto it = ctx_of.find(buft);
        if (it != ctx_of.end()) {
            return it->second;
        }
        ggml_init_params params = {
            /*.mem_size   =*/ size_t(3u * hparams.n_layer() * ggml_tensor_overhead()),
            /*.mem_buffer =*/ nullptr,
            /*.no_alloc   =*/ true,
        };
        ggml_context * ctx = ggml_init(params);
        if (!ctx) {
            throw std::runtime_error("failed to create a ggml context for the DeltaKV memory");
        }
        ctx_of[buft] = ctx;
        ctxs.emplace_back(ctx);
        return ctx;
    };

    for (uint32_t il = 0; il < hparams.n_layer(); ++il) {
        if (dkv.is_full[il]) {
            continue;
        }
        ggml_backend_buffer_type_t buft = ggml_backend_cpu_buffer_type();
        if (offload) {
            buft = ggml_backend_dev_buffer_type(model.dev_layer(il));
        }
        ggml_context * ctx = ctx_for(buft);

        llama_deltakv_layer_store st;
        st.il     = (int32_t) il;
        st.exact  = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, dkv.kv_dim, n_exact);
        st.latent = ggml_new_tensor_2d(ctx, t_lat, dkv.latent_dim, n_slots);
        st.ids    = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, dkv.n_neighbors, n_slots);
        ggml_format_name(st.exact,  "deltakv_exact_l%u",  il);
        ggml_format_name(st.latent, "deltakv_latent_l%u", il);
        ggml_format_name(st.ids,    "deltakv_ids_l%u",    il);

        layer_of[(int32_t) il] = (int32_t) layers.size();
        layers.push_back(st);
    }

    for (auto & [buft, ctx] : ctx_of) {
        ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors_from_buft(ctx, buft);
        if (!buf) {
            throw std::runtime_error(format("failed to allocate the DeltaKV memory buffer (%s)",
                                            ggml_backend_buft_name(buft)));
        }
        // unwritten slots must read as finite numbers: masked attention still multiplies them by 0
        ggml_backend_buffer_clear(buf, 0);
        LLAMA_LOG_INFO("%s: %10s DeltaKV buffer size = %8.2f MiB\n", __func__, ggml_backend_buffer_name(buf),
                       ggml_backend_buffer_get_size(buf) / 1024.0 / 1024.0);
        bufs.emplace_back(buf);
    }

    row_refs.assign(n_exact, 0);
    slot_refs.assign(n_slots, 0);
    clear(false);

    LLAMA_LOG_INFO("%s: DeltaKV: %zu compressed layers, %u exact rows, %u latent slots (%s, d = %u)\n", __func__,
                   layers.size(), n_exact, n_slots, ggml_type_name(t_lat), dkv.latent_dim);
}

const llama_deltakv_layer_store * llama_deltakv_store::get_layer(int32_t il) const {
    auto it = layer_of.find(il);
    return it == layer_of.end() ? nullptr : &layers[it->second];
}

int32_t llama_deltakv_store::alloc_row() {
    if (free_rows.empty()) {
        return -1;
    }
    const int32_t r = free_rows.back();
    free_rows.pop_back();
    row_refs[r] = 1;
    return r;
}

int32_t llama_deltakv_store::alloc_slot() {
    if (free_slots.empty()) {
        return -1;
    }
    const int32_t s = free_slots.back();
    free_slots.pop_back();
    slot_refs[s] = 1;
    return s;
}

void llama_deltakv_store::release_row(int32_t row) {
    GGML_ASSERT(row >= 0 && row_refs[row] > 0);
    if (--row_refs[row] == 0) {
        free_rows.push_back(row);
    }
}

void llama_deltakv_store::release_slot(int32_t slot) {
    GGML_ASSERT(slot >= 0 && slot_refs[slot] > 0);
    if (--slot_refs[slot] == 0) {
        free_slots.push_back(slot);
    }
}

void llama_deltakv_store::share(const llama_deltakv_sequence & s) {
    for (int32_t r : s.row_of_pos) {
        if (r >= 0) {
            row_refs[r]++;
        }
    }
    for (int32_t sl : s.slot_of_pos) {
        if (sl >= 0) {
            slot_refs[sl]++;
        }
    }
}

void llama_deltakv_store::release_from(llama_deltakv_sequence & s, int32_t p0) {
    drop_block(s); // its tokens or references may be among those freed: compressed again when due
    const int32_t n = (int32_t) s.row_of_pos.size();
    for (int32_t p = std::max(p0, 0); p < n; ++p) {
        if (s.row_of_pos[p] >= 0) {
            release_row(s.row_of_pos[p]);
        }
        if (s.slot_of_pos[p] >= 0) {
            release_slot(s.slot_of_pos[p]);
        }
    }
    if (p0 < n) {
        s.row_of_pos.resize(std::max(p0, 0));
        s.slot_of_pos.resize(std::max(p0, 0));
    }
}

void llama_deltakv_store::drop_block(llama_deltakv_sequence & s) {
    if (s.work.active) {
        for (int32_t slot : s.work.slots) {
            release_slot(slot);
        }
    }
    s.work = {};
}

void llama_deltakv_store::clear(bool data) {
    std::fill(row_refs.begin(), row_refs.end(), 0);
    std::fill(slot_refs.begin(), slot_refs.end(), 0);
    free_rows.resize(n_exact);
    free_slots.resize(n_slots);
    // popped from the back: row 0 first
    for (uint32_t i = 0; i < n_exact; ++i) {
        free_rows[i] = (int32_t) (n_exact - 1 - i);
    }
    for (uint32_t i = 0; i < n_slots; ++i) {
        free_slots[i] = (int32_t) (n_slots - 1 - i);
    }
    if (data) {
        for (auto & buf : bufs) {
            ggml_backend_buffer_clear(buf.get(), 0);
        }
    }
}
