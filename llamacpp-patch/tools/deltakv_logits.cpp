// deltakv-logits: write the logits of a fixed decode script to a file, using only the public llama.h API.
// Built against the patched tree and against stock llama.cpp, it shows that with DeltaKV off the
// patched build computes exactly what stock llama.cpp computes (the files are byte-identical).
//
// usage: deltakv-logits MODEL PROMPT_FILE OUT [--steps N] [--ubatch N] [--fa on|off] [--ctk f16|q8_0]
//
// Script: the prompt in batches of --ubatch tokens; N greedy steps; remove the last 2 tokens and decode
// them again; save the sequence's state, clear the memory, restore the state and decode one more token.
// The logits of the last prompt token and of every decoded token go to OUT as float32.
#include "tool_common.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct logits_writer {
    FILE *  out;
    int32_t n_vocab;
    size_t  rows = 0;

    void write(llama_context * ctx) {
        const float * logits = llama_get_logits_ith(ctx, -1);
        fwrite(logits, sizeof(float), (size_t) n_vocab, out);
        rows++;
    }
};

static llama_token argmax(llama_context * ctx, int32_t n_vocab) {
    const float * logits = llama_get_logits_ith(ctx, -1);
    llama_token best = 0;
    for (llama_token t = 1; t < n_vocab; ++t) {
        if (logits[t] > logits[best]) {
            best = t;
        }
    }
    return best;
}

int main(int argc, char ** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL PROMPT_FILE OUT [--steps N] [--ubatch N] [--fa on|off] [--ctk f16|q8_0]\n",
                argv[0]);
        return 2;
    }
    const tool_options opt(argc, argv, 4);
    const int32_t steps  = (int32_t) opt.num("--steps", 16);
    const int32_t ubatch = (int32_t) opt.num("--ubatch", 64);
    const std::string fa  = opt.str("--fa", "off");
    const std::string ctk = opt.str("--ctk", "f16");

    tool_init();

    llama_model * model = tool_load_model(argv[1], 0);
    if (model == nullptr) {
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);

    const std::vector<llama_token> tokens = tool_tokenize_file(vocab, argv[2], 0);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = 2048;
    cp.n_batch         = 2048;
    cp.n_ubatch        = ubatch;
    cp.n_threads       = 2;
    cp.n_threads_batch = 2;
    cp.flash_attn_type = fa == "on" ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k          = ctk == "q8_0" ? GGML_TYPE_Q8_0 : GGML_TYPE_F16;
    cp.type_v          = cp.type_k;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (ctx == nullptr || tokens.empty() || tokens.size() + steps + 2 > 2048) {
        fprintf(stderr, "cannot set up the run\n");
        return 1;
    }

    FILE * out = fopen(argv[3], "wb");
    logits_writer w{out, llama_vocab_n_tokens(vocab)};
    int32_t pos = 0;
    bool ok = tool_decode(ctx, tokens, pos);
    pos += (int32_t) tokens.size();
    w.write(ctx);

    std::vector<llama_token> generated;
    for (int32_t i = 0; ok && i < steps; ++i) {
        const llama_token t = argmax(ctx, w.n_vocab);
        generated.push_back(t);
        ok = tool_decode(ctx, {t}, pos++);
        w.write(ctx);
    }

    // remove the last two tokens and decode them again
    llama_memory_t mem = llama_get_memory(ctx);
    ok = ok && generated.size() >= 2 && llama_memory_seq_rm(mem, 0, pos - 2, -1);
    pos -= 2;
    ok = ok && tool_decode(ctx, {generated[generated.size() - 2], generated.back()}, pos);
    pos += 2;
    w.write(ctx);

    // state round trip of the sequence, then one more token
    std::vector<uint8_t> state(llama_state_seq_get_size(ctx, 0));
    ok = ok && llama_state_seq_get_data(ctx, state.data(), state.size(), 0) == state.size();
    llama_memory_clear(mem, true);
    ok = ok && llama_state_seq_set_data(ctx, state.data(), state.size(), 0) == state.size();
    ok = ok && tool_decode(ctx, {generated.front()}, pos++);
    w.write(ctx);

    fclose(out);
    printf("%s: %zu rows of %d logits, %s\n", argv[3], w.rows, w.n_vocab, ok ? "ok" : "FAILED");
    llama_free(ctx);
    llama_model_free(model);
    return ok ? 0 : 1;
}
