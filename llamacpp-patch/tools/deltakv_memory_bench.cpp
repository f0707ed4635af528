// deltakv-memory-bench: KV memory of a DeltaKV context against the stock F16 cache, measured.
//
// usage: deltakv-memory-bench MODEL SIDEFILE [--ctx N] [--batch N] [--gpu N] [--fill N]
//
// Creates a stock F16 context and a DeltaKV context of --ctx tokens and reads the bytes their KV memory
// allocated (llama_get_memory_breakdown; the DeltaKV context also through llama_deltakv_get_stats). With
// --fill N it then decodes N random tokens as one prompt and one more step into a DeltaKV context and
// reports the bytes those tokens use, by class. Prints one "key=value" line per measure.
#include "tool_common.h"

#include "llama-deltakv.h"
#include "tool_kv_bytes.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

static llama_context * make_ctx(llama_model * model, uint32_t n_ctx, uint32_t n_batch, const llama_deltakv * dkv) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = n_ctx;
    cp.n_batch         = n_batch;
    cp.n_ubatch        = std::min<uint32_t>(n_batch, 512);
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    cp.deltakv         = dkv;
    return llama_init_from_model(model, cp);
}

int main(int argc, char ** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL SIDEFILE [--ctx N] [--batch N] [--gpu N] [--fill N]\n", argv[0]);
        return 2;
    }
    const tool_options opt(argc, argv, 3);
    const uint32_t n_ctx   = (uint32_t) opt.num("--ctx", 131072);
    const uint32_t n_batch = (uint32_t) opt.num("--batch", 2048);
    const int32_t  n_fill  = (int32_t) opt.num("--fill", 0);

    tool_init();

    llama_model * model = tool_load_model(argv[1], (int32_t) opt.num("--gpu", 0));
    if (model == nullptr) {
        return 1;
    }
    llama_deltakv * dkv = llama_deltakv_load(model, argv[2], llama_deltakv_default_params());
    if (dkv == nullptr) {
        return 1;
    }

    // stock F16 cache: measured at this context size
    int64_t stock = 0;
    {
        llama_context * ctx = make_ctx(model, n_ctx, n_batch, nullptr);
        if (ctx == nullptr) {
            return 1;
        }
        stock = tool_kv_bytes(ctx);
        llama_free(ctx);
    }
    printf("n_ctx=%u\nn_batch=%u\nstock_f16_bytes=%lld\n", n_ctx, n_batch, (long long) stock);

    llama_context * ctx = make_ctx(model, n_ctx, n_batch, dkv);
    if (ctx == nullptr) {
        return 1;
    }
    llama_deltakv_stats st{};
    llama_deltakv_get_stats(ctx, &st);
    const int64_t alloc = tool_kv_bytes(ctx);
    printf("deltakv_alloc_bytes=%lld\ndeltakv_stats_alloc_bytes=%lld\nstats_alloc_bytes_stock=%lld\n",
           (long long) alloc, (long long) st.alloc_bytes, (long long) st.alloc_bytes_stock);
    printf("alloc_ratio=%.4f\n", (double) alloc / (double) stock);

    llama_free(ctx);

    if (n_fill > 0) {
        // the bytes the tokens use, by class: N random tokens as one prompt (exact prefill needs a batch of
        // the whole prompt, so this context has its own), then one step (compression runs at its start)
        ctx = make_ctx(model, n_ctx, (uint32_t) n_fill, dkv);
        if (ctx == nullptr) {
            return 1;
        }
        const llama_vocab * vocab = llama_model_get_vocab(model);
        std::mt19937 rng(1);
        std::uniform_int_distribution<int> tok(0, llama_vocab_n_tokens(vocab) - 1);
        llama_batch batch = llama_batch_init(n_fill, 0, 1);
        batch.n_tokens = n_fill;
        for (int32_t i = 0; i < n_fill; ++i) {
            batch.token[i]     = tok(rng);
            batch.pos[i]       = i;
            batch.n_seq_id[i]  = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i]    = i == n_fill - 1;
        }
        bool ok = llama_decode(ctx, batch) == 0;
        batch.n_tokens  = 1;
        batch.token[0]  = tok(rng);
        batch.pos[0]    = n_fill;
        batch.logits[0] = true;
        ok = ok && llama_decode(ctx, batch) == 0;
        llama_batch_free(batch);
        llama_deltakv_get_stats(ctx, &st);
        const int64_t used = st.bytes_full_layers + st.bytes_exact_rows + st.bytes_latents + st.bytes_ref_ids;
        printf("fill_ok=%d\ntokens=%lld\ncompressed=%lld\nrefs=%lld\nraw=%lld\n", ok ? 1 : 0, (long long) st.n_tokens,
               (long long) st.n_compressed, (long long) st.n_refs, (long long) st.n_raw);
        printf("bytes_full_layers=%lld\nbytes_exact_rows=%lld\nbytes_latents=%lld\nbytes_ref_ids=%lld\n"
               "bytes_stock=%lld\nused_ratio=%.4f\n", (long long) st.bytes_full_layers, (long long) st.bytes_exact_rows,
               (long long) st.bytes_latents, (long long) st.bytes_ref_ids, (long long) st.bytes_stock,
               (double) used / (double) st.bytes_stock);
        llama_free(ctx);
    }

    llama_deltakv_free(dkv);
    llama_model_free(model);
    return 0;
}
