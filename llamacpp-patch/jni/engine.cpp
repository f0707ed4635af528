#include "engine.h"

#include "llama-ext.h" // llama_get_memory_breakdown

#include <stdexcept>

namespace dkv {

model_handle::~model_handle() {
    if (model != nullptr) {
        llama_model_free(model);
    }
}

session_handle::~session_handle() {
    if (ctx != nullptr) {
        llama_free(ctx);
    }
    if (dkv != nullptr) {
        llama_deltakv_free(dkv);
    }
}

model_handle * load_model(const std::string & path, int32_t n_gpu_layers,
                          const std::function<bool(float)> & on_progress) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = n_gpu_layers;
    if (on_progress) {
        mp.progress_callback = [](float p, void * data) {
            return (*static_cast<const std::function<bool(float)> *>(data))(p);
        };
        mp.progress_callback_user_data = const_cast<std::function<bool(float)> *>(&on_progress);
    }
    llama_model * model = llama_model_load_from_file(path.c_str(), mp);
    if (model == nullptr) {
        return nullptr;
    }
    auto * h  = new model_handle();
    h->model  = model;
    h->vocab  = llama_model_get_vocab(model);
    return h;
}

session_handle * new_session(model_handle * model, uint32_t n_ctx, uint32_t n_batch, int32_t n_threads,
                             int32_t flash_attn, const deltakv_config & deltakv, ggml_type kv_type) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = n_ctx;
    cp.n_batch         = n_batch;
    cp.n_ubatch        = n_batch;
    cp.n_seq_max       = 1;
    cp.n_threads       = n_threads;
    cp.n_threads_batch = n_threads;
    cp.flash_attn_type = flash_attn < 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO
                       : flash_attn == 0 ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_ENABLED;
    cp.no_perf         = true;
    cp.type_k          = kv_type; // the stock cache's (and DeltaKV's full layers') element type
    cp.type_v          = kv_type;

    auto * s = new session_handle();
    s->model = model;
    if (!deltakv.path.empty()) {
        llama_deltakv_params dp = deltakv.params;
        dp.full_layers   = deltakv.full_layers.empty() ? nullptr : deltakv.full_layers.data();
        dp.n_full_layers = (int32_t) deltakv.full_layers.size();
        s->dkv = llama_deltakv_load(model->model, deltakv.path.c_str(), dp);
        if (s->dkv == nullptr) {
            delete s;
            return nullptr;
        }
        cp.deltakv = s->dkv;
    }
    cp.abort_callback      = [](void * data) { return static_cast<session_handle *>(data)->cancel_requested.load(); };
    cp.abort_callback_data = s;
    s->ctx = llama_init_from_model(model->model, cp);
    if (s->ctx == nullptr) {
        delete s;
        return nullptr;
    }
    return s;
}

std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text, bool add_special,
                                  bool parse_special) {
    std::vector<llama_token> out(text.size() + 2);
    int32_t n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), out.data(), (int32_t) out.size(),
                               add_special, parse_special);
    if (n == INT32_MIN) {
        throw std::runtime_error("text too long to tokenize");
    }
    if (n < 0) {
        out.resize((size_t) -n);
        n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), out.data(), (int32_t) out.size(),
                           add_special, parse_special);
    }
    out.resize((size_t) n);
    return out;
}

std::string token_piece(const llama_vocab * vocab, llama_token token, bool special) {
    std::string out(16, '\0');
    int32_t n = llama_token_to_piece(vocab, token, out.data(), (int32_t) out.size(), 0, special);
    if (n < 0) {
        out.resize((size_t) -n);
        n = llama_token_to_piece(vocab, token, out.data(), (int32_t) out.size(), 0, special);
    }
    out.resize((size_t) std::max(n, 0));
    return out;
}

std::string detokenize(const llama_vocab * vocab, const std::vector<llama_token> & tokens, bool remove_special,
                       bool unparse_special) {
    std::string out(tokens.size() * 4 + 16, '\0');
    int32_t n = llama_detokenize(vocab, tokens.data(), (int32_t) tokens.size(), out.data(), (int32_t) out.size(),
                                 remove_special, unparse_special);
    if (n < 0) {
        out.resize((size_t) -n);
        n = llama_detokenize(vocab, tokens.data(), (int32_t) tokens.size(), out.data(), (int32_t) out.size(),
                             remove_special, unparse_special);
    }
    out.resize((size_t) std::max(n, 0));
    return out;
}

// A sampler chain in llama.cpp's usual order: grammar, penalties, top-k, top-p, min-p, temperature, draw.
static llama_sampler * make_sampler(const llama_vocab * vocab, const sampling_params & sp) {
    llama_sampler * chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (!sp.grammar.empty()) {
        llama_sampler * grammar = llama_sampler_init_grammar(vocab, sp.grammar.c_str(), "root");
        if (grammar == nullptr) {
            llama_sampler_free(chain);
            throw std::runtime_error("the output grammar does not parse");
        }
        llama_sampler_chain_add(chain, grammar);
    }
    if (sp.repeat_penalty != 1.0f || sp.frequency_penalty != 0.0f || sp.presence_penalty != 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_penalties(llama_vocab_n_tokens(vocab), sp.repeat_last_n, sp.repeat_penalty,
                                                                    sp.frequency_penalty, sp.presence_penalty));
    }
    if (sp.temperature <= 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
        return chain;
    }
    if (sp.top_k > 0) {
        llama_sampler_chain_add(chain, llama_sampler_init_top_k(sp.top_k));
    }
    if (sp.top_p < 1.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_top_p(sp.top_p, 1));
    }
    if (sp.min_p > 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_min_p(sp.min_p, 1));
    }
    llama_sampler_chain_add(chain, llama_sampler_init_temp(sp.temperature));
    llama_sampler_chain_add(chain, llama_sampler_init_dist(sp.seed));
    return chain;
}

struct sampler_guard {
    llama_sampler * s;
    ~sampler_guard() { llama_sampler_free(s); }
};

struct batch_guard {
    llama_batch b;
    ~batch_guard() { llama_batch_free(b); }
};

static int32_t tokens_held(llama_context * ctx) {
    return llama_memory_seq_pos_max(llama_get_memory(ctx), 0) + 1;
}

generation_result session_handle::generate(const std::vector<llama_token> & tokens, int32_t n_keep,
                                           const sampling_params & sp, const generation_callbacks & cb) {
    generation_result res;
    cancel_requested = false;

    const int32_t n_ctx   = (int32_t) llama_n_ctx(ctx);
    const int32_t n_batch = (int32_t) llama_n_batch(ctx);
    const int32_t n_tok   = (int32_t) tokens.size();
    if (n_tok == 0) {
        throw std::runtime_error("empty prompt");
    }
    if (n_tok > n_ctx) {
        throw std::runtime_error("prompt of " + std::to_string(n_tok) + " tokens does not fit the context of " +
                                 std::to_string(n_ctx) + " tokens");
    }

    // keep the cached prefix, but always evaluate at least the last prompt token (for its logits)
    n_keep = std::max(0, std::min(n_keep, std::min(n_tok - 1, tokens_held(ctx))));
    llama_memory_t mem = llama_get_memory(ctx);
    if (!llama_memory_seq_rm(mem, 0, n_keep, -1)) {
        llama_memory_seq_rm(mem, 0, -1, -1); // cannot cut here: start over
        n_keep = 0;
    }

    batch_guard batch{llama_batch_init(n_batch, 0, 1)};
    auto decode_range = [&](int32_t from, int32_t to, bool logits_last) {
        batch.b.n_tokens = 0;
        for (int32_t i = from; i < to; ++i) {
            const int32_t j = batch.b.n_tokens++;
            batch.b.token[j]     = tokens[i];
            batch.b.pos[j]       = i;
            batch.b.n_seq_id[j]  = 1;
            batch.b.seq_id[j][0] = 0;
            batch.b.logits[j]    = logits_last && i == to - 1;
        }
        return llama_decode(ctx, batch.b);
    };

    // prompt
    const int32_t todo = n_tok - n_keep;
    for (int32_t i = n_keep; i < n_tok; i += n_batch) {
        const int32_t end = std::min(n_tok, i + n_batch);
        const int32_t rc  = decode_range(i, end, end == n_tok);
        if (rc == 2 || cancel_requested) {
            res.finish      = FINISH_CANCELLED;
            res.n_evaluated = i - n_keep;
            res.n_past      = tokens_held(ctx);
            return res;
        }
        if (rc != 0) {
            throw std::runtime_error("llama_decode failed on the prompt (code " + std::to_string(rc) + ")");
        }
        res.n_evaluated = end - n_keep;
        if (cb.on_prefill && todo > n_batch) {
            cb.on_prefill(res.n_evaluated, todo);
        }
    }

    // generation (the sampler first: a bad grammar fails before any work)
    sampler_guard smpl{make_sampler(model->vocab, sp)};
    int32_t n_past = n_tok;
    while (true) {
        if (cancel_requested) {
            res.finish = FINISH_CANCELLED;
            break;
        }
        const llama_token tok = llama_sampler_sample(smpl.s, ctx, -1);
        if (llama_vocab_is_eog(model->vocab, tok)) {
            res.finish = FINISH_EOG;
            break;
        }
        res.n_generated++;
        if (cb.on_token && !cb.on_token(tok, token_piece(model->vocab, tok, false))) {
            res.finish = cancel_requested ? FINISH_CANCELLED : FINISH_STOPPED;
            break;
        }
        if (sp.max_tokens >= 0 && res.n_generated >= sp.max_tokens) {
            res.finish = FINISH_MAX_TOKENS;
            break;
        }
        if (n_past >= n_ctx) {
            res.finish = FINISH_CONTEXT_FULL;
            break;
        }
        batch.b.n_tokens     = 1;
        batch.b.token[0]     = tok;
        batch.b.pos[0]       = n_past;
        batch.b.n_seq_id[0]  = 1;
        batch.b.seq_id[0][0] = 0;
        batch.b.logits[0]    = true;
        const int32_t rc = llama_decode(ctx, batch.b);
        if (rc == 2) {
            res.finish = FINISH_CANCELLED;
            break;
        }
        if (rc == 1) {
            res.finish = FINISH_CONTEXT_FULL;
            break;
        }
        if (rc != 0) {
            throw std::runtime_error("llama_decode failed while generating (code " + std::to_string(rc) + ")");
        }
        n_past++;
    }
    res.n_past = tokens_held(ctx);
    return res;
}

std::vector<int64_t> kv_stats(session_handle * s) {
    int64_t kv_bytes = 0;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(s->ctx)) {
        (void) buft;
        kv_bytes += (int64_t) mb.context;
    }
    const int64_t held      = tokens_held(s->ctx);
    const int64_t held_size = held > 0 ? (int64_t) llama_state_seq_get_size(s->ctx, 0) : 0;
    std::vector<int64_t> out = {(int64_t) llama_n_ctx(s->ctx), held, kv_bytes, held_size};
    llama_deltakv_stats ds{};
    if (llama_deltakv_get_stats(s->ctx, &ds)) {
        out.insert(out.end(), {ds.n_tokens, ds.n_compressed, ds.n_refs, ds.n_raw, ds.bytes_full_layers,
                               ds.bytes_exact_rows, ds.bytes_latents, ds.bytes_ref_ids, ds.bytes_stock,
                               ds.alloc_bytes, ds.alloc_bytes_stock});
    }
    return out;
}

} // namespace dkv
