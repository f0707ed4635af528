#pragma once

// What the native test and benchmark tools share: quiet logging and decoding one sequence's tokens.
// Public llama.h API only, so the stock reference build compiles it too.

#include "llama.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

// llama.cpp's log goes to stderr for errors only (and warnings when asked); then the backends are loaded.
inline void tool_init(bool warnings = false) {
    static bool show_warnings;
    show_warnings = warnings;
    llama_log_set([](ggml_log_level level, const char * text, void *) {
        if (level == GGML_LOG_LEVEL_ERROR || (show_warnings && level == GGML_LOG_LEVEL_WARN)) {
            fputs(text, stderr);
        }
    }, nullptr);
    ggml_backend_load_all();
    llama_backend_init();
}

// Decodes n tokens of sequence seq at positions pos0, pos0 + 1, ...; logits for the last one only.
inline bool tool_decode(llama_context * ctx, const llama_token * tokens, int32_t n, int32_t pos0,
                        llama_seq_id seq = 0) {
    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int32_t i = 0; i < n; ++i) {
        batch.token[i]     = tokens[i];
        batch.pos[i]       = pos0 + i;
        batch.n_seq_id[i]  = 1;
        batch.seq_id[i][0] = seq;
        batch.logits[i]    = i == n - 1;
    }
    batch.n_tokens = n;
    const bool ok = llama_decode(ctx, batch) == 0;
    llama_batch_free(batch);
    return ok;
}

inline bool tool_decode(llama_context * ctx, const std::vector<llama_token> & tokens, int32_t pos0,
                        llama_seq_id seq = 0) {
    return tool_decode(ctx, tokens.data(), (int32_t) tokens.size(), pos0, seq);
}

// "--key value" pairs of the command line, from argv[first] on.
struct tool_options {
    std::map<std::string, std::string> values;

    tool_options(int argc, char ** argv, int first) {
        for (int i = first; i + 1 < argc; i += 2) {
            values[argv[i]] = argv[i + 1];
        }
    }

    bool has(const char * key) const { return values.count(key) != 0; }

    long num(const char * key, long otherwise) const {
        auto it = values.find(key);
        return it == values.end() ? otherwise : std::stol(it->second);
    }

    std::string str(const char * key, const std::string & otherwise) const {
        auto it = values.find(key);
        return it == values.end() ? otherwise : it->second;
    }
};
