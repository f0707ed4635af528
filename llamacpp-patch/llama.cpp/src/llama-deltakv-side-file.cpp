#include "llama-deltakv-side-file.h"

#include "llama-impl.h"
#include "llama-mmap.h"
#include "llama-model.h"

#include "gguf.h"

#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

//
// side file
//

static const char * DKV_TYPE = "deltakv";

uint32_t llama_deltakv::n_deltakv_layers() const {
    uint32_t n = 0;
    for (bool full : is_full) {
        n += full ? 0 : 1;
    }
    return n;
}

std::string llama_deltakv_model_layout(const llama_model & model) {
    std::map<std::string, const ggml_tensor *> by_name; // a tied tensor is listed twice: once here
    for (const auto & [name, t] : model.tensors_by_name) {
        by_name.emplace(name, t);
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (const auto & [name, t] : by_name) {
        const std::string line = format("%s:%lld,%lld,%lld,%lld\n", name.c_str(), (long long) t->ne[0],
                                        (long long) t->ne[1], (long long) t->ne[2], (long long) t->ne[3]);
        for (unsigned char c : line) {
            h = (h ^ c) * 0x100000001b3ull;
        }
    }
    return format("%016llx", (unsigned long long) h);
}

std::string llama_deltakv::setting(const std::string & key) const {
    if (key == "architecture")  return arch;
    if (key == "model_name")    return model_name;
    if (key == "model_layout")  return model_layout;
    if (key == "model_matches") return model_matches ? "yes" : "no";
    if (key == "n_layer")       return std::to_string(n_layer);
    if (key == "n_head_kv")     return std::to_string(n_head_kv);
    if (key == "head_dim")      return std::to_string(head_dim);
    if (key == "kv_dim")        return std::to_string(kv_dim);
    if (key == "latent_dim")    return std::to_string(latent_dim);
    if (key == "encoder")       return encoder == LLAMA_DELTAKV_ENCODER_SWIGLU ? "swiglu" : "linear";
    if (key == "encoder_ff")    return std::to_string(encoder_ff);
    if (key == "decoder")       return "linear";
    if (key == "n_sink")        return std::to_string(n_sink);
    if (key == "n_recent")      return std::to_string(n_recent);
    if (key == "n_neighbors")   return std::to_string(n_neighbors);
    if (key == "center_stride") return std::to_string(center_stride);
    if (key == "top_k")         return std::to_string(top_k);
    if (key == "top_k_fraction") return format("%g", (double) top_k_fraction);
    if (key == "latent_bits")   return std::to_string(latent_bits);
    if (key == "latent_group")  return std::to_string(latent_group);
    if (key == "full_layers") {
        std::string out;
        for (uint32_t il = 0; il < n_layer; ++il) {
            if (is_full[il]) {
                out += (out.empty() ? "" : ",") + std::to_string(il);
            }
        }
        return out;
    }
    return {};
}

namespace {

struct side_file_reader {
    gguf_context * gguf;

    int64_t find(const char * key) const { return gguf_find_key(gguf, key); }

    std::string str(const char * key, bool required = true) const {
        const int64_t id = find(key);
        if (id < 0) {
            if (required) {
                throw std::runtime_error(format("side file has no '%s'", key));
            }
            return {};
        }
        if (gguf_get_kv_type(gguf, id) != GGUF_TYPE_STRING) {
            throw std::runtime_error(format("side file key '%s' is not a string", key));
        }
        return gguf_get_val_str(gguf, id);
    }

    float f32(const char * key, float fallback) const {
        const int64_t id = find(key);
        if (id < 0) {
            return fallback;
        }
        if (gguf_get_kv_type(gguf, id) != GGUF_TYPE_FLOAT32) {
            throw std::runtime_error(format("side file key '%s' is not a float", key));
        }
        return gguf_get_val_f32(gguf, id);
    }

    uint32_t u32(const char * key, int64_t fallback = -1) const {
        const int64_t id = find(key);
        if (id < 0) {
            if (fallback < 0) {
                throw std::runtime_error(format("side file has no '%s'", key));
            }
            return (uint32_t) fallback;
        }
        switch (gguf_get_kv_type(gguf, id)) {
            case GGUF_TYPE_UINT32: return gguf_get_val_u32(gguf, id);
            case GGUF_TYPE_INT32: {
                const int32_t v = gguf_get_val_i32(gguf, id);
                if (v < 0) {
                    throw std::runtime_error(format("side file key '%s' is negative (%d)", key, v));
                }
                return (uint32_t) v;
            }
            default: throw std::runtime_error(format("side file key '%s' is not an integer", key));
        }
    }

    std::vector<int32_t> i32_array(const char * key) const {
        const int64_t id = find(key);
        if (id < 0) {
            throw std::runtime_error(format("side file has no '%s'", key));
        }
        if (gguf_get_kv_type(gguf, id) != GGUF_TYPE_ARRAY ||
            (gguf_get_arr_type(gguf, id) != GGUF_TYPE_INT32 && gguf_get_arr_type(gguf, id) != GGUF_TYPE_UINT32)) {
            throw std::runtime_error(format("side file key '%s' is not an integer array", key));
        }
        const size_t n = gguf_get_arr_n(gguf, id);
        const auto * data = static_cast<const int32_t *>(gguf_get_arr_data(gguf, id));
        return std::vector<int32_t>(data, data + n);
    }
};

void check_equal(const char * what, uint32_t side_file, uint32_t model) {
    if (side_file != model) {
        throw std::runtime_error(format("side file was made for %s = %u, the model has %s = %u", what, side_file,
                                        what, model));
    }
}

// a setting: the side file's value, or the override when one is given (>= 0); either must lie in [lo, hi]
void apply_override(uint32_t & value, int32_t override_value, uint32_t lo, uint32_t hi, const char * name) {
    if (override_value >= 0) {
        if ((uint32_t) override_value < lo || (uint32_t) override_value > hi) {
            throw std::runtime_error(format("%s must be in [%u, %u], got %d", name, lo, hi, override_value));
        }
        value = (uint32_t) override_value;
    } else if (value < lo || value > hi) {
        throw std::runtime_error(format("the side file's %s must be in [%u, %u], it has %u", name, lo, hi, value));
    }
}

} // namespace

// Reads the metadata, checks it against the model, applies the overrides.
static void deltakv_read_metadata(const llama_model & model, const side_file_reader & r,
                                  const llama_deltakv_params & params, llama_deltakv & dkv) {
    const std::string type = r.str("general.type", false);
    if (type != DKV_TYPE) {
        throw std::runtime_error(format("not a DeltaKV side file: general.type is '%s', expected '%s'", type.c_str(),
                                        DKV_TYPE));
    }
    const uint32_t version = r.u32("deltakv.version");
    if (version != 1) {
        throw std::runtime_error(format("DeltaKV side file version %u is not supported (this build reads version 1)",
                                        version));
    }

    dkv.arch = r.str("general.architecture");
    if (dkv.arch != model.arch_name()) {
        throw std::runtime_error(format("side file was made for architecture '%s', the model is '%s'", dkv.arch.c_str(),
                                        model.arch_name().c_str()));
    }

    dkv.model_name   = r.str("deltakv.model.name", false);
    dkv.model_layout = r.str("deltakv.model.layout", false);
    if (!dkv.model_layout.empty()) {
        const std::string layout = llama_deltakv_model_layout(model);
        dkv.model_matches = layout == dkv.model_layout;
        if (!dkv.model_matches) {
            char name[256] = {0};
            llama_model_meta_val_str(&model, "general.name", name, sizeof(name));
            LLAMA_LOG_WARN("%s: the DeltaKV side file was made for model '%s' (tensor layout %s), this model '%s' has "
                           "layout %s: a compressor calibrated for another model compresses this one poorly\n",
                           __func__, dkv.model_name.c_str(), dkv.model_layout.c_str(), name, layout.c_str());
        }
    }

    const auto & hp = model.hparams;
    const uint32_t n_layer = (uint32_t) llama_model_n_layer(&model);
    dkv.n_layer    = r.u32("deltakv.n_layer");
    dkv.n_head_kv  = r.u32("deltakv.n_head_kv");
    dkv.head_dim   = r.u32("deltakv.head_dim");
    dkv.kv_dim     = r.u32("deltakv.kv_dim");
    dkv.latent_dim = r.u32("deltakv.latent_dim");
    check_equal("n_layer", dkv.n_layer, n_layer);
    check_equal("n_head_kv", dkv.n_head_kv, hp.n_head_kv(0));
    check_equal("head_dim", dkv.head_dim, hp.n_embd_head_k(0));
    if (dkv.kv_dim != 2 * dkv.n_head_kv * dkv.head_dim) {
        throw std::runtime_error(format("side file kv_dim %u is not 2 * n_head_kv * head_dim = %u", dkv.kv_dim,
                                        2 * dkv.n_head_kv * dkv.head_dim));
    }
    for (uint32_t il = 0; il < n_layer; ++il) {
        if (hp.n_head_kv(il) != dkv.n_head_kv || hp.n_embd_head_k(il) != dkv.head_dim ||
            hp.n_embd_head_v(il) != dkv.head_dim) {
            throw std::runtime_error(format("DeltaKV needs the same KV heads and head size (K and V) in every layer; "
                                            "layer %u differs", il));
        }
    }
    if (dkv.latent_dim == 0 || dkv.latent_dim > dkv.kv_dim) {
        throw std::runtime_error(format("latent_dim %u must be in [1, kv_dim = %u]", dkv.latent_dim, dkv.kv_dim));
    }

    const std::string encoder = r.str("deltakv.encoder");
    if (encoder == "linear") {
        dkv.encoder = LLAMA_DELTAKV_ENCODER_LINEAR;
    } else if (encoder == "swiglu") {
        dkv.encoder    = LLAMA_DELTAKV_ENCODER_SWIGLU;
        dkv.encoder_ff = r.u32("deltakv.encoder_ff");
        if (dkv.encoder_ff == 0 || dkv.encoder_ff > (1u << 20)) {
            throw std::runtime_error(format("encoder_ff %u must be in [1, 2^20]", dkv.encoder_ff));
        }
    } else {
        throw std::runtime_error(format("unknown DeltaKV encoder '%s' (linear or swiglu)", encoder.c_str()));
    }
    const std::string decoder = r.str("deltakv.decoder");
    if (decoder != "linear") {
        throw std::runtime_error(format("unknown DeltaKV decoder '%s' (linear)", decoder.c_str()));
    }

    dkv.n_sink        = r.u32("deltakv.n_sink", dkv.n_sink);
    dkv.n_recent      = r.u32("deltakv.n_recent", dkv.n_recent);
    dkv.n_neighbors   = r.u32("deltakv.n_neighbors", dkv.n_neighbors);
    dkv.center_stride = r.u32("deltakv.center_stride", dkv.center_stride);
    dkv.top_k         = r.u32("deltakv.top_k", dkv.top_k);
    dkv.latent_bits   = r.u32("deltakv.latent_bits", dkv.latent_bits);
    dkv.latent_group  = r.u32("deltakv.latent_group", dkv.latent_group);

    apply_override(dkv.n_sink,        params.n_sink,        0, 1u << 20, "n_sink");
    apply_override(dkv.n_recent,      params.n_recent,      1, 1u << 20, "n_recent");
    apply_override(dkv.n_neighbors,   params.n_neighbors,   1, 8, "n_neighbors"); // the fused ops average up to 8
    // a stride of 1 makes every token a reference: nothing would be compressed
    apply_override(dkv.center_stride, params.center_stride, 2, 1u << 20, "center_stride");
    apply_override(dkv.top_k,         params.top_k,         1, 1u << 30, "top_k");
    dkv.top_k_fraction = params.top_k_fraction >= 0 ? params.top_k_fraction
                                                    : r.f32("deltakv.top_k_fraction", dkv.top_k_fraction);
    if (!(dkv.top_k_fraction >= 0.0f && dkv.top_k_fraction <= 1.0f)) {
        throw std::runtime_error(format("top_k_fraction must be in [0, 1], got %g", (double) dkv.top_k_fraction));
    }
    apply_override(dkv.latent_bits,   params.latent_bits,   4, 16, "latent_bits");
    if (params.compress_layers_per_step >= 0) {
        dkv.compress_layers_per_step = (uint32_t) params.compress_layers_per_step;
    }
    if (dkv.n_sink < dkv.n_neighbors) {
        throw std::runtime_error(format("n_sink (%u) must be at least n_neighbors (%u): every compressed token needs "
                                        "k references", dkv.n_sink, dkv.n_neighbors));
    }
    if (dkv.latent_bits != 4 && dkv.latent_bits != 8 && dkv.latent_bits != 16) {
        throw std::runtime_error(format("latent_bits must be 4, 8 or 16, got %u", dkv.latent_bits));
    }
    if (dkv.latent_bits != 16 &&
        (dkv.latent_group == 0 || dkv.latent_group % 8 != 0 || dkv.latent_dim % dkv.latent_group != 0)) {
        throw std::runtime_error(format("int%u latents need latent_dim (%u) to be a multiple of the group (%u), itself "
                                        "a multiple of 8", dkv.latent_bits, dkv.latent_dim, dkv.latent_group));
    }

    std::vector<int32_t> full = params.full_layers != nullptr
        ? std::vector<int32_t>(params.full_layers, params.full_layers + params.n_full_layers)
        : r.i32_array("deltakv.full_layers");
    dkv.is_full.assign(n_layer, false);
    for (int32_t il : full) {
        if (il < 0 || (uint32_t) il >= n_layer) {
            throw std::runtime_error(format("full layer %d is not a layer of the model (0..%u)", il, n_layer - 1));
        }
        dkv.is_full[il] = true;
    }
    if (!dkv.is_full[0]) {
        throw std::runtime_error("layer 0 must be a full layer (it observes for the DeltaKV layers after it)");
    }
    if (dkv.n_deltakv_layers() == 0) {
        throw std::runtime_error("every layer is a full layer: nothing to compress");
    }
}

// Refuses models whose attention DeltaKV does not cover.
static void deltakv_check_model(const llama_model & model) {
    const auto & hp = model.hparams;
    if (llm_arch_is_recurrent(model.arch) || llm_arch_is_hybrid(model.arch)) {
        throw std::runtime_error("DeltaKV needs an attention-only model; " + model.arch_name() + " is recurrent or hybrid");
    }
    if (hp.swa_type != LLAMA_SWA_TYPE_NONE) {
        throw std::runtime_error("DeltaKV does not support sliding-window attention models (" + model.arch_name() + ")");
    }
    if (hp.n_pos_per_embd() > 1) {
        throw std::runtime_error("DeltaKV does not support multi-dimensional RoPE (M-RoPE) models");
    }
    if (hp.rope_type == LLAMA_ROPE_TYPE_NONE) {
        throw std::runtime_error("DeltaKV needs a RoPE model (" + model.arch_name() + " has no RoPE)");
    }
}

struct tensor_spec {
    ggml_tensor ** dst;
    std::string    name;
    int64_t        ne0, ne1; // ne1 = 1 for a vector
    bool           required;
};

// whether every one of n weights (F32, F16 or BF16) is a finite number
static bool all_finite(ggml_type type, const uint8_t * data, int64_t n) {
    std::vector<float> chunk(4096);
    for (int64_t i = 0; i < n; i += (int64_t) chunk.size()) {
        const int64_t m = std::min<int64_t>((int64_t) chunk.size(), n - i);
        if (type == GGML_TYPE_F32) {
            memcpy(chunk.data(), (const float *) data + i, m * sizeof(float));
        } else if (type == GGML_TYPE_F16) {
            ggml_fp16_to_fp32_row((const ggml_fp16_t *) data + i, chunk.data(), m);
        } else {
            ggml_bf16_to_fp32_row((const ggml_bf16_t *) data + i, chunk.data(), m);
        }
        for (int64_t j = 0; j < m; ++j) {
            if (!std::isfinite(chunk[j])) {
                return false;
            }
        }
    }
    return true;
}

static void llama_deltakv_load_impl(const llama_model & model, const char * path, const llama_deltakv_params & params,
                                    llama_deltakv & dkv) {
    deltakv_check_model(model);

    ggml_context * ctx_meta = nullptr;
    gguf_init_params gp = {
        /*.no_alloc =*/ true,
        /*.ctx      =*/ &ctx_meta,
    };
    gguf_context_ptr gguf { gguf_init_from_file(path, gp) };
    if (!gguf) {
        throw std::runtime_error(format("cannot read '%s' as a GGUF file (missing, truncated or not GGUF)", path));
    }
    ggml_context_ptr meta { ctx_meta };

    deltakv_read_metadata(model, side_file_reader{gguf.get()}, params, dkv);

    const int64_t kv_dim = dkv.kv_dim;
    const int64_t d      = dkv.latent_dim;
    const int64_t ff     = dkv.encoder_ff;

    // one ggml context per buffer type: each layer's weights live on the device of the layer's KV cache
    std::map<ggml_backend_buffer_type_t, ggml_context *> ctx_map;
    auto ctx_for = [&](ggml_backend_buffer_type_t buft) {
        auto it = ctx_map.find(buft);
        if (it != ctx_map.end()) {
            return it->second;
        }
        ggml_init_params ip = {
            /*.mem_size   =*/ (size_t) (gguf_get_n_tensors(gguf.get()) + 1) * ggml_tensor_overhead(),
            /*.mem_buffer =*/ nullptr,
            /*.no_alloc   =*/ true,
        };
        ggml_context * c = ggml_init(ip);
        if (c == nullptr) {
            throw std::runtime_error("failed to create a ggml context for the DeltaKV weights");
        }
        ctx_map[buft] = c;
        dkv.ctxs.emplace_back(c);
        return c;
    };

    std::vector<std::pair<ggml_tensor *, ggml_tensor *>> to_load; // (file tensor, device tensor)
    dkv.layers.assign(dkv.n_layer, {});
    for (uint32_t il = 0; il < dkv.n_layer; ++il) {
        if (dkv.is_full[il]) {
            continue;
        }
        auto & L = dkv.layers[il];
        const std::string p = "blk." + std::to_string(il) + ".";
        std::vector<tensor_spec> specs;
        if (dkv.encoder == LLAMA_DELTAKV_ENCODER_LINEAR) {
            specs.push_back({&L.enc,   p + "dkv_enc.weight", kv_dim, d, true});
            specs.push_back({&L.enc_b, p + "dkv_enc.bias",   d,      1, false});
        } else {
            specs.push_back({&L.enc_w12,   p + "dkv_enc_w12.weight", kv_dim, 2 * ff, true});
            specs.push_back({&L.enc_w12_b, p + "dkv_enc_w12.bias",   2 * ff, 1,      false});
            specs.push_back({&L.enc_w3,    p + "dkv_enc_w3.weight",  ff,     d,      true});
            specs.push_back({&L.enc_w3_b,  p + "dkv_enc_w3.bias",    d,      1,      false});
        }
        specs.push_back({&L.dec,   p + "dkv_dec.weight", d,      kv_dim, true});
        specs.push_back({&L.dec_b, p + "dkv_dec.bias",   kv_dim, 1,      false});

        ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(model.dev_layer(il));
        for (const auto & s : specs) {
            ggml_tensor * t = ggml_get_tensor(meta.get(), s.name.c_str());
            if (t == nullptr) {
                if (s.required) {
                    throw std::runtime_error(format("side file has no tensor '%s'", s.name.c_str()));
                }
                continue;
            }
            if (t->ne[0] != s.ne0 || t->ne[1] != s.ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
                throw std::runtime_error(format("tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
                                                s.name.c_str(), (long long) t->ne[0], (long long) t->ne[1],
                                                (long long) s.ne0, (long long) s.ne1));
            }
            if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16) {
                throw std::runtime_error(format("tensor '%s' has type %s (F32, F16 or BF16 expected)", s.name.c_str(),
                                                ggml_type_name(t->type)));
            }
            ggml_tensor * dev = ggml_dup_tensor(ctx_for(buft), t);
            ggml_set_name(dev, t->name);
            *s.dst = dev;
            to_load.emplace_back(t, dev);
        }
    }

    for (auto & [buft, c] : ctx_map) {
        ggml_backend_buffer_ptr buf { ggml_backend_alloc_ctx_tensors_from_buft(c, buft) };
        if (!buf) {
            throw std::runtime_error(format("failed to allocate %s memory for the DeltaKV weights",
                                            ggml_backend_buft_name(buft)));
        }
        LLAMA_LOG_INFO("%s: %10s DeltaKV weights = %8.2f MiB\n", __func__, ggml_backend_buffer_name(buf.get()),
                       ggml_backend_buffer_get_size(buf.get()) / 1024.0 / 1024.0);
        dkv.bufs.emplace_back(std::move(buf));
    }

    llama_file file(path, "rb");
    std::vector<uint8_t> data;
    for (auto & [t, dev] : to_load) {
        const size_t offs = gguf_get_data_offset(gguf.get()) +
                            gguf_get_tensor_offset(gguf.get(), gguf_find_tensor(gguf.get(), t->name));
        const size_t size = ggml_nbytes(t);
        if (offs + size < offs || offs + size > file.size()) {
            throw std::runtime_error(format("tensor '%s' lies beyond the end of the side file (truncated?)", t->name));
        }
        data.resize(size);
        file.seek(offs, SEEK_SET);
        file.read_raw(data.data(), size);
        if (!all_finite(t->type, data.data(), ggml_nelements(t))) {
            throw std::runtime_error(format("tensor '%s' holds a weight that is not a finite number (NaN or infinity)",
                                            t->name));
        }
        ggml_backend_tensor_set(dev, data.data(), 0, size);
    }

    LLAMA_LOG_INFO("%s: %u DeltaKV layers, latent %u (%s), encoder %s, sink %u, recent %u, %u neighbours, stride %u, "
                   "top-k %u, full layers %s\n", __func__, dkv.n_deltakv_layers(), dkv.latent_dim,
                   dkv.latent_bits == 4 ? "int4" : dkv.latent_bits == 8 ? "int8" : "f16", dkv.setting("encoder").c_str(), dkv.n_sink, dkv.n_recent,
                   dkv.n_neighbors, dkv.center_stride, dkv.top_k, dkv.setting("full_layers").c_str());
}

//
// public API
//

llama_deltakv_params llama_deltakv_default_params(void) {
    llama_deltakv_params p = {
        /*.n_sink        =*/ -1,
        /*.n_recent      =*/ -1,
        /*.n_neighbors   =*/ -1,
        /*.center_stride =*/ -1,
        /*.top_k         =*/ -1,
        /*.top_k_fraction =*/ -1.0f,
        /*.latent_bits   =*/ -1,
        /*.full_layers   =*/ nullptr,
        /*.n_full_layers =*/ 0,
        /*.compress_layers_per_step =*/ -1,
    };
    return p;
}

llama_deltakv * llama_deltakv_load(const llama_model * model, const char * path, llama_deltakv_params params) {
    if (model == nullptr || path == nullptr) {
        LLAMA_LOG_ERROR("%s: model and path are required\n", __func__);
        return nullptr;
    }
    auto * dkv = new llama_deltakv();
    try {
        llama_deltakv_load_impl(*model, path, params, *dkv);
        return dkv;
    } catch (const std::exception & err) {
        LLAMA_LOG_ERROR("%s: failed to load DeltaKV side file '%s': %s\n", __func__, path, err.what());
        delete dkv;
        return nullptr;
    }
}

void llama_deltakv_set_test_params(llama_deltakv * dkv, const llama_deltakv_test_params & params) {
    dkv->test = params;
}

void llama_deltakv_free(llama_deltakv * dkv) {
    delete dkv;
}

bool llama_deltakv_is_full_layer(const llama_deltakv * dkv, int32_t il) {
    return dkv != nullptr && il >= 0 && (uint32_t) il < dkv->n_layer && dkv->is_full[il];
}

int32_t llama_deltakv_meta_val_str(const llama_deltakv * dkv, const char * key, char * buf, size_t buf_size) {
    const std::string v = dkv == nullptr || key == nullptr ? std::string() : dkv->setting(key);
    if (v.empty()) {
        if (buf_size > 0) {
            buf[0] = '\0';
        }
        return -1;
    }
    return snprintf(buf, buf_size, "%s", v.c_str());
}
