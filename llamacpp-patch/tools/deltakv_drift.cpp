// deltakv-drift: teacher-forced drift of a DeltaKV memory against the stock F16 cache.
//
// usage: deltakv-drift MODEL SIDEFILE TEXT_FILE [--ctx N] [--steps N] [--gpu N] [--top-k N]
//
// Both contexts read the first ctx - steps - 1 tokens of the text as one prompt, then the next `steps`
// tokens of the text one at a time (teacher forcing: the same input whatever either predicts). At each
// step it compares the next-token distributions: KL(stock || DeltaKV) in nats and whether the argmax is
// the same. Prints "key=value" lines: steps, mean_kl, max_kl, top1_agreement.
#include "tool_common.h"

#include "llama-deltakv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

static std::vector<double> softmax(const float * logits, int32_t n) {
    const float mx = *std::max_element(logits, logits + n);
    std::vector<double> p(n);
    double sum = 0;
    for (int32_t i = 0; i < n; ++i) {
        p[i] = std::exp((double) logits[i] - mx);
        sum += p[i];
    }
    for (double & x : p) {
        x /= sum;
    }
    return p;
}

int main(int argc, char ** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL SIDEFILE TEXT_FILE [--ctx N] [--steps N] [--gpu N] [--top-k N]\n", argv[0]);
        return 2;
    }
    const tool_options opt(argc, argv, 4);
    const int32_t n_ctx = (int32_t) opt.num("--ctx", 8192);
    const int32_t steps = (int32_t) opt.num("--steps", 64);

    tool_init();
    llama_model * model = tool_load_model(argv[1], (int32_t) opt.num("--gpu", 0));
    if (model == nullptr) {
        return 1;
    }
    llama_deltakv_params dp = llama_deltakv_default_params();
    dp.top_k = (int32_t) opt.num("--top-k", -1);
    llama_deltakv * dkv = llama_deltakv_load(model, argv[2], dp);
    if (dkv == nullptr) {
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);

    const std::vector<llama_token> tokens = tool_tokenize_file(vocab, argv[3], 6 * (size_t) n_ctx);
    const int32_t n_prompt = n_ctx - steps - 1;
    if ((int32_t) tokens.size() < n_ctx) {
        fprintf(stderr, "text too short\n");
        return 1;
    }

    llama_context * ctx[2] = {nullptr, nullptr};
    for (int k = 0; k < 2; ++k) {
        llama_context_params cp = llama_context_default_params();
        cp.n_ctx           = n_ctx;
        cp.n_batch         = n_ctx;
        cp.n_ubatch        = 512;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
        cp.deltakv         = k == 1 ? dkv : nullptr;
        ctx[k] = llama_init_from_model(model, cp);
        if (ctx[k] == nullptr || !tool_decode(ctx[k], tokens.data(), n_prompt, 0)) {
            return 1;
        }
    }
    double kl_sum = 0;
    double kl_max = 0;
    int32_t agree = 0;
    for (int32_t s = 0; s < steps; ++s) {
        const std::vector<double> p = softmax(llama_get_logits_ith(ctx[0], -1), n_vocab);
        const std::vector<double> q = softmax(llama_get_logits_ith(ctx[1], -1), n_vocab);
        double kl = 0;
        for (int32_t i = 0; i < n_vocab; ++i) {
            if (p[i] > 0) {
                kl += p[i] * (std::log(p[i]) - std::log(std::max(q[i], 1e-300)));
            }
        }
        kl_sum += kl;
        kl_max = std::max(kl_max, kl);
        agree += std::max_element(p.begin(), p.end()) - p.begin() == std::max_element(q.begin(), q.end()) - q.begin();
        for (int k = 0; k < 2; ++k) {
            if (!tool_decode(ctx[k], &tokens[n_prompt + s], 1, n_prompt + s)) {
                return 1;
            }
        }
    }
    llama_deltakv_stats st{};
    llama_deltakv_get_stats(ctx[1], &st);
    printf("steps=%d\nmean_kl=%.5f\nmax_kl=%.5f\ntop1_agreement=%.4f\ncompressed=%lld\nused_ratio=%.4f\n", steps,
           kl_sum / steps, kl_max, (double) agree / steps, (long long) st.n_compressed,
           (double) (st.bytes_full_layers + st.bytes_exact_rows + st.bytes_latents + st.bytes_ref_ids) / st.bytes_stock);
    llama_free(ctx[0]);
    llama_free(ctx[1]);
    llama_deltakv_free(dkv);
    llama_model_free(model);
    return 0;
}
