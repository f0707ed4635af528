// deltakv-random-model: a GGUF model with a real architecture's attention shape and random weights.
//
// usage: deltakv-random-model VOCAB.gguf OUT.gguf [--preset llama31-8b|qwen25-7b] [--n-embd N] [--n-head N]
//                             [--n-ff N] [--seed S]
//
// Speed and KV memory depend on shapes, not on weight values. The presets are the real models' shapes
// (layers, hidden size, heads, KV heads, FFN width, RoPE base, Qwen2's QKV biases); --n-embd, --n-head and
// --n-ff shrink the weights while keeping the KV shape (layers x KV heads x head dim) when only KV memory
// is measured. The tokenizer is copied from VOCAB.gguf (one of llama.cpp's vocab-only files). Weights are
// F16, uniform with std 0.02 (a fast generator on every core: billions of values for the full shapes, the same
// values for any number of threads); the output matrix is tied to the token embedding.
#include "ggml.h"
#include "gguf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

struct preset {
    const char * arch;
    int n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    float rope_base;
    bool qkv_bias;
};

static const std::map<std::string, preset> PRESETS = {
    {"llama31-8b", {"llama", 32, 4096, 32, 8, 14336, 131072, 500000.0f, false}},
    {"qwen25-7b",  {"qwen2", 28, 3584, 28, 4, 18944, 131072, 1000000.0f, true}},
};

// xorshift64*: uniform in [-a, a) with a = 0.02 * sqrt(3)
static float uniform(uint64_t & state) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    const uint64_t r = state * 0x2545f4914f6cdd1dull;
    return ((float) (r >> 40) / (float) (1ull << 24) * 2.0f - 1.0f) * 0.0346410162f;
}

// n random F16 values in chunks of 2^20, each chunk from a generator of its own (seeded by seed and the chunk's
// index), the chunks shared out over the cores
static void fill_random(ggml_fp16_t * d, int64_t n, uint64_t seed) {
    const int64_t chunk    = 1 << 20;
    const int64_t n_chunks = (n + chunk - 1) / chunk;
    const int64_t n_thread = std::min<int64_t>(std::max(1u, std::thread::hardware_concurrency()), n_chunks);
    std::vector<std::thread> workers;
    for (int64_t w = 0; w < n_thread; ++w) {
        workers.emplace_back([=]() {
            for (int64_t c = w; c < n_chunks; c += n_thread) {
                uint64_t state = (seed + (uint64_t) c) * 0x9e3779b97f4a7c15ull | 1; // never 0
                for (int64_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) {
                    d[i] = ggml_fp32_to_fp16(uniform(state));
                }
            }
        });
    }
    for (auto & t : workers) {
        t.join();
    }
}

int main(int argc, char ** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s VOCAB.gguf OUT.gguf [--preset llama31-8b|qwen25-7b] [--n-embd N] [--n-head N] "
                        "[--n-ff N] [--seed S]\n", argv[0]);
        return 2;
    }
    std::map<std::string, std::string> opt;
    for (int i = 3; i + 1 < argc; i += 2) {
        opt[argv[i]] = argv[i + 1];
    }
    const std::string name = opt.count("--preset") ? opt["--preset"] : "llama31-8b";
    if (!PRESETS.count(name)) {
        fprintf(stderr, "unknown preset %s\n", name.c_str());
        return 2;
    }
    preset p = PRESETS.at(name);
    const int head_dim = p.n_embd / p.n_head; // kept when the width shrinks
    if (opt.count("--n-head")) {
        p.n_head = std::stoi(opt["--n-head"]);
    }
    if (opt.count("--n-embd")) {
        p.n_embd = std::stoi(opt["--n-embd"]);
    }
    if (p.n_embd != p.n_head * head_dim || p.n_head % p.n_head_kv != 0) {
        fprintf(stderr, "n_embd must be n_head x %d and n_head a multiple of %d\n", head_dim, p.n_head_kv);
        return 2;
    }
    if (opt.count("--n-ff")) {
        p.n_ff = std::stoi(opt["--n-ff"]);
    }
    const uint64_t seed = opt.count("--seed") ? std::stoull(opt["--seed"]) : 0ull;

    // the tokenizer of the vocab file
    gguf_init_params vp = {/*.no_alloc =*/ true, /*.ctx =*/ nullptr};
    gguf_context * vocab = gguf_init_from_file(argv[1], vp);
    if (vocab == nullptr) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    const int64_t tok_key = gguf_find_key(vocab, "tokenizer.ggml.tokens");
    if (tok_key < 0) {
        fprintf(stderr, "%s has no tokenizer\n", argv[1]);
        return 1;
    }
    const int n_vocab = (int) gguf_get_arr_n(vocab, tok_key);

    gguf_context * out = gguf_init_empty();
    gguf_set_kv(out, vocab); // every pair of the vocab file; the architecture's keys below overwrite its own
    const std::string a = p.arch;
    gguf_set_val_str(out, "general.architecture", p.arch);
    gguf_set_val_str(out, "general.name", ("random-" + name).c_str());
    gguf_set_val_u32(out, "general.file_type", 1); // mostly F16
    gguf_set_val_u32(out, (a + ".context_length").c_str(), p.n_ctx);
    gguf_set_val_u32(out, (a + ".embedding_length").c_str(), p.n_embd);
    gguf_set_val_u32(out, (a + ".block_count").c_str(), p.n_layer);
    gguf_set_val_u32(out, (a + ".feed_forward_length").c_str(), p.n_ff);
    gguf_set_val_u32(out, (a + ".attention.head_count").c_str(), p.n_head);
    gguf_set_val_u32(out, (a + ".attention.head_count_kv").c_str(), p.n_head_kv);
    gguf_set_val_u32(out, (a + ".rope.dimension_count").c_str(), head_dim);
    gguf_set_val_f32(out, (a + ".rope.freq_base").c_str(), p.rope_base);
    gguf_set_val_f32(out, (a + ".attention.layer_norm_rms_epsilon").c_str(), 1e-6f);

    // tensors
    struct spec { std::string name; int64_t ne0, ne1; bool ones; };
    std::vector<spec> specs = {{"token_embd.weight", p.n_embd, n_vocab, false}, {"output_norm.weight", p.n_embd, 1, true}};
    const int64_t kv = (int64_t) p.n_head_kv * head_dim;
    for (int il = 0; il < p.n_layer; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        specs.push_back({b + "attn_norm.weight", p.n_embd, 1, true});
        specs.push_back({b + "attn_q.weight", p.n_embd, p.n_embd, false});
        specs.push_back({b + "attn_k.weight", p.n_embd, kv, false});
        specs.push_back({b + "attn_v.weight", p.n_embd, kv, false});
        if (p.qkv_bias) {
            specs.push_back({b + "attn_q.bias", p.n_embd, 1, false});
            specs.push_back({b + "attn_k.bias", kv, 1, false});
            specs.push_back({b + "attn_v.bias", kv, 1, false});
        }
        specs.push_back({b + "attn_output.weight", p.n_embd, p.n_embd, false});
        specs.push_back({b + "ffn_norm.weight", p.n_embd, 1, true});
        specs.push_back({b + "ffn_gate.weight", p.n_embd, p.n_ff, false});
        specs.push_back({b + "ffn_up.weight", p.n_embd, p.n_ff, false});
        specs.push_back({b + "ffn_down.weight", p.n_ff, p.n_embd, false});
    }

    size_t bytes = 0;
    for (const auto & s : specs) {
        bytes += ggml_row_size(s.ne1 == 1 ? GGML_TYPE_F32 : GGML_TYPE_F16, s.ne0) * s.ne1 + 64;
    }
    ggml_init_params ip = {/*.mem_size =*/ bytes + specs.size() * ggml_tensor_overhead(), nullptr, false};
    ggml_context * ctx = ggml_init(ip);
    if (ctx == nullptr) {
        fprintf(stderr, "cannot allocate %.1f GiB for the weights\n", bytes / 1073741824.0);
        return 1;
    }
    uint64_t tensor_seed = seed << 32; // each tensor's chunks a range of seeds of their own
    for (const auto & s : specs) {
        // norms and biases as F32 vectors, matrices as F16
        ggml_tensor * t = s.ne1 == 1 ? ggml_new_tensor_1d(ctx, GGML_TYPE_F32, s.ne0)
                                     : ggml_new_tensor_2d(ctx, GGML_TYPE_F16, s.ne0, s.ne1);
        ggml_set_name(t, s.name.c_str());
        const int64_t n = ggml_nelements(t);
        if (t->type == GGML_TYPE_F32) {
            float * d = (float *) t->data;
            for (int64_t i = 0; i < n; ++i) {
                d[i] = s.ones ? 1.0f : 0.0f;
            }
        } else {
            fill_random((ggml_fp16_t *) t->data, n, tensor_seed);
            tensor_seed += (uint64_t) (n >> 20) + 1;
        }
        gguf_add_tensor(out, t);
    }
    if (!gguf_write_to_file(out, argv[2], false)) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    printf("wrote %s: %s shape, %d layers, %d KV heads x %d, n_embd %d, n_ff %d, vocab %d, %.2f GiB\n", argv[2],
           name.c_str(), p.n_layer, p.n_head_kv, head_dim, p.n_embd, p.n_ff, n_vocab, bytes / 1073741824.0);
    gguf_free(out);
    gguf_free(vocab);
    ggml_free(ctx);
    return 0;
}
