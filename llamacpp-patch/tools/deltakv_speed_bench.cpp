// deltakv-speed-bench: time to first token and decode speed at a context depth, stock cache or DeltaKV.
//
// usage: deltakv-speed-bench MODEL [--deltakv SIDEFILE] [--kv f16|q8_0|q4_0] [--depth N] [--steps N]
//                            [--seqs B] [--ubatch N] [--gpu N] [--threads N] [--seed N]
//
// Each of B sequences reads `depth` random token ids (from [100, 32000), seeded) as one prompt (one
// llama_decode call: DeltaKV prefills a prompt exactly when it comes in one call), timed: the time to first
// token. Then every sequence decodes `steps` tokens together, one batch of B tokens a step (random ids: speed
// does not depend on them); each step is timed to the end of its computation (llama_synchronize), compression
// events included (DeltaKV compresses at the start of a step). Sequences get their own cells (no shared
// prompt copies). Prints one "key=value" line per measure: prefill seconds and tokens/s, step milliseconds
// p50 / p99 / max, decode tokens/s over all sequences, the KV bytes allocated and, with DeltaKV, used.
#include "tool_common.h"

#include "llama-deltakv.h"
#include "tool_kv_bytes.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

static ggml_type kv_type(const std::string & name) {
    if (name == "q8_0") {
        return GGML_TYPE_Q8_0;
    }
    if (name == "q4_0") {
        return GGML_TYPE_Q4_0;
    }
    if (name != "f16") {
        fprintf(stderr, "unknown --kv %s (f16, q8_0, q4_0)\n", name.c_str());
        exit(2);
    }
    return GGML_TYPE_F16;
}

static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int main(int argc, char ** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [--deltakv SIDEFILE] [--kv f16|q8_0|q4_0] [--depth N] [--steps N] "
                        "[--seqs B] [--ubatch N] [--gpu N] [--threads N] [--seed N]\n", argv[0]);
        return 2;
    }
    const tool_options opt(argc, argv, 2);
    const int32_t      depth   = (int32_t) opt.num("--depth", 32768);
    const int32_t      steps   = (int32_t) opt.num("--steps", 128);
    const int32_t      n_seqs  = (int32_t) opt.num("--seqs", 1);
    const std::string  side    = opt.str("--deltakv", "");
    const std::string  kv_name = opt.str("--kv", "f16");

    tool_init();

    llama_model * model = tool_load_model(argv[1], (int32_t) opt.num("--gpu", 99));
    if (model == nullptr) {
        return 1;
    }
    llama_deltakv * dkv = nullptr;
    if (!side.empty()) {
        dkv = llama_deltakv_load(model, side.c_str(), llama_deltakv_default_params());
        if (dkv == nullptr) {
            return 1;
        }
    }

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = (uint32_t) (n_seqs * (depth + steps + 16));
    cp.n_batch         = (uint32_t) std::max(depth, n_seqs);
    cp.n_ubatch        = (uint32_t) opt.num("--ubatch", 1024);
    cp.n_seq_max       = (uint32_t) n_seqs;
    cp.kv_unified      = dkv != nullptr; // DeltaKV serves several sequences in one unified cache
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    cp.type_k          = kv_type(kv_name);
    cp.type_v          = cp.type_k;
    cp.n_threads       = (int32_t) opt.num("--threads", 8);
    cp.n_threads_batch = cp.n_threads;
    cp.deltakv         = dkv;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (ctx == nullptr) {
        fprintf(stderr, "cannot create the context\n");
        return 1;
    }
    printf("config=%s\ndepth=%d\nseqs=%d\nsteps=%d\nkv_alloc_bytes=%lld\n", side.empty() ? kv_name.c_str() : "deltakv",
           depth, n_seqs, steps, (long long) tool_kv_bytes(ctx));
    fflush(stdout);

    std::mt19937 rng((uint32_t) opt.num("--seed", 1));
    std::uniform_int_distribution<llama_token> tok(100, 31999);
    std::vector<llama_token> prompt(depth);

    // prefill: each sequence's prompt in one call
    double prefill_s = 0;
    for (int32_t s = 0; s < n_seqs; ++s) {
        for (auto & t : prompt) {
            t = tok(rng);
        }
        const auto t0 = std::chrono::steady_clock::now();
        if (!tool_decode(ctx, prompt, 0, s)) {
            fprintf(stderr, "prefill of sequence %d failed\n", s);
            return 1;
        }
        llama_synchronize(ctx);
        prefill_s += seconds_since(t0);
        fprintf(stderr, "\r[speed-bench] prefilled %d/%d sequences", s + 1, n_seqs);
    }
    fprintf(stderr, "\n");
    printf("prefill_s=%.3f\nprefill_tok_s=%.1f\n", prefill_s / n_seqs, depth / (prefill_s / n_seqs));
    fflush(stdout);

    // decode: one token per sequence a step
    llama_batch batch = llama_batch_init(n_seqs, 0, 1);
    std::vector<double> step_ms;
    const int32_t reused_before = llama_perf_context(ctx).n_reused;
    for (int32_t i = 0; i < steps; ++i) {
        batch.n_tokens = n_seqs;
        for (int32_t s = 0; s < n_seqs; ++s) {
            batch.token[s]     = tok(rng);
            batch.pos[s]       = depth + i;
            batch.n_seq_id[s]  = 1;
            batch.seq_id[s][0] = s;
            batch.logits[s]    = true;
        }
        const auto t0 = std::chrono::steady_clock::now();
        if (llama_decode(ctx, batch) != 0) {
            fprintf(stderr, "decode step %d failed\n", i);
            return 1;
        }
        llama_synchronize(ctx);
        step_ms.push_back(1000 * seconds_since(t0));
    }
    llama_batch_free(batch);

    std::vector<double> sorted = step_ms;
    std::sort(sorted.begin(), sorted.end());
    auto pct = [&](double p) { return sorted[std::min(sorted.size() - 1, (size_t) (p * (double) sorted.size()))]; };
    double total_ms = 0;
    for (double ms : step_ms) {
        total_ms += ms;
    }
    printf("step_ms_p50=%.3f\nstep_ms_p99=%.3f\nstep_ms_max=%.3f\ndecode_tok_s=%.1f\n", pct(0.50), pct(0.99),
           sorted.back(), 1000.0 * n_seqs * steps / total_ms);
    // a step whose graph is not reused builds, allocates and (on a GPU) captures it again
    printf("decode_graphs_reused=%d\n", llama_perf_context(ctx).n_reused - reused_before);
    printf("step_ms_all=");
    for (size_t i = 0; i < step_ms.size(); ++i) {
        printf(i == 0 ? "%.2f" : ",%.2f", step_ms[i]);
    }
    printf("\n");
    llama_deltakv_stats st{};
    if (llama_deltakv_get_stats(ctx, &st)) {
        const int64_t used = st.bytes_full_layers + st.bytes_exact_rows + st.bytes_latents + st.bytes_ref_ids;
        printf("kv_used_bytes=%lld\nkv_used_stock_bytes=%lld\n", (long long) used, (long long) st.bytes_stock);
    }

    llama_free(ctx);
    llama_deltakv_free(dkv);
    llama_model_free(model);
    return 0;
}
