#pragma once

// What the native test and benchmark tools share: quiet logging and decoding one sequence's tokens.
// Public llama.h API only, so the stock reference build compiles it too.

#include "llama.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
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

// The model at path with n_gpu_layers offloaded; nullptr when it cannot be loaded (llama.cpp logs why).
inline llama_model * tool_load_model(const char * path, int32_t n_gpu_layers) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = n_gpu_layers;
    return llama_model_load_from_file(path, mp);
}

// The tokens of a text file (BOS first, no special tokens parsed), the text repeated, a newline between
// copies, until it has at least min_chars characters.
inline std::vector<llama_token> tool_tokenize_file(const llama_vocab * vocab, const char * path, size_t min_chars) {
    std::stringstream text;
    text << std::ifstream(path).rdbuf();
    std::string corpus = text.str();
    while (corpus.size() < min_chars) {
        corpus += "\n" + text.str();
    }
    std::vector<llama_token> tokens(corpus.size() + 8);
    tokens.resize(llama_tokenize(vocab, corpus.data(), (int32_t) corpus.size(), tokens.data(), (int32_t) tokens.size(),
                                 true, false));
    return tokens;
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
