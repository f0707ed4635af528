#include "engine.h"
#include "llama-ext.h" // llama_get_memory_breakdown

#include "ggml-backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
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

static std::mutex                                      rpc_mutex;
static std::map<std::string, std::vector<std::string>> rpc_added; // endpoint -> its device names

static bool is_any_rpc_device_added() {
    std::lock_guard<std::mutex> lock(rpc_mutex);
    return !rpc_added.empty();
}

std::vector<std::string> add_rpc_server(const std::string & endpoint) {
    std::lock_guard<std::mutex> lock(rpc_mutex);
    auto it = rpc_added.find(endpoint);
    if (it != rpc_added.end()) {
        return it->second;
    }
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    if (rpc == nullptr) {
        throw std::runtime_error("this build has no RPC backend (libggml-rpc.so)");
    }
    using add_server_fn = ggml_backend_reg_t (*)(const char *);
    auto add_server = (add_server_fn) ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server");
    if (add_server == nullptr) {
        throw std::runtime_error("the RPC backend has no ggml_backend_rpc_add_server");
    }
    ggml_backend_reg_t reg = nullptr;
    try {
        reg = add_server(endpoint.c_str()); // ggml aborts (here: throws) when it cannot connect
    } catch (const std::exception & e) {
        throw std::runtime_error("RPC server " + endpoint + ": " + e.what() +
                                 " (is it a ggml-rpc-server of this build?)");
    }
    if (reg == nullptr || ggml_backend_reg_dev_count(reg) == 0) {
        throw std::runtime_error("the RPC server at " + endpoint + " serves no device");
    }
    ggml_backend_register(reg);
    std::vector<std::string> names;
    for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); ++i) {
        names.emplace_back(ggml_backend_dev_name(ggml_backend_reg_dev_get(reg, i)));
    }
    rpc_added[endpoint] = names;
    return names;
}

model_handle * load_model(const std::string & path, const model_placement & placement,
                          const std::function<bool(float)> & on_progress) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = placement.n_gpu_layers;
    mp.split_mode   = (llama_split_mode) placement.split_mode;
    mp.main_gpu     = placement.main_gpu;
    std::vector<ggml_backend_dev_t> devices;
    auto by_name = [](const std::string & name) {
        ggml_backend_dev_t dev = ggml_backend_dev_by_name(name.c_str());
        if (dev == nullptr) {
            throw std::runtime_error("no device named '" + name + "'");
        }
        return dev;
    };
    if (placement.devices.empty() && is_any_rpc_device_added()) {
        // llama.cpp's default (RPC devices, then the GPUs, else the integrated GPUs) without other models' servers
        for (const auto & name : placement.rpc_devices) {
            devices.push_back(by_name(name));
        }
        std::vector<ggml_backend_dev_t> gpus, igpus;
        for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
            ggml_backend_dev_t dev = ggml_backend_dev_get(i);
            const bool rpc = std::string(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev))) == "RPC";
            if (!rpc && ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) {
                gpus.push_back(dev);
            } else if (!rpc && ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_IGPU) {
                igpus.push_back(dev);
            }
        }
        devices.insert(devices.end(), gpus.begin(), gpus.end());
        if (gpus.empty()) {
            devices.insert(devices.end(), igpus.begin(), igpus.end());
        }
        devices.push_back(nullptr);
        mp.devices = devices.data(); // possibly none: the CPU
    }
    for (const auto & name : placement.devices) {
        ggml_backend_dev_t dev = ggml_backend_dev_by_name(name.c_str());
        if (dev == nullptr) {
            std::string known;
            for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
                known += (known.empty() ? "" : ", ") + std::string(ggml_backend_dev_name(ggml_backend_dev_get(i)));
            }
            throw std::runtime_error("no device named '" + name + "' (devices: " + known + ")");
        }
        devices.push_back(dev);
    }
    if (!placement.devices.empty()) {
        devices.push_back(nullptr);
        mp.devices = devices.data();
    }
    std::vector<float> split(llama_max_devices(), 0.0f);
    if (placement.tensor_split.size() > split.size()) {
        throw std::runtime_error("tensorSplit has " + std::to_string(placement.tensor_split.size()) +
                                 " proportions, this build places layers on at most " + std::to_string(split.size()) +
                                 " devices");
    }
    if (!placement.tensor_split.empty()) {
        std::copy(placement.tensor_split.begin(), placement.tensor_split.end(), split.begin());
        mp.tensor_split = split.data();
    }
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
    if (mp.devices != nullptr) {
        for (ggml_backend_dev_t * d = mp.devices; *d != nullptr; ++d) {
            h->devices.push_back(*d);
        }
    } else { // llama.cpp's default with no RPC server added: the machine's devices
        for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
            h->devices.push_back(ggml_backend_dev_get(i));
        }
    }
    return h;
}

// A metadata value of the model as an integer, or `fallback` when the model has none.
static int64_t model_meta_int(const llama_model * model, const std::string & key, int64_t fallback) {
    char buf[64];
    if (llama_model_meta_val_str(model, key.c_str(), buf, sizeof(buf)) < 0) {
        return fallback;
    }
    return std::strtoll(buf, nullptr, 10);
}

// Memory a context of n_ctx cells needs at the least, counted before anything is allocated: llama.cpp's bookkeeping
// of each cell (position, shift and a set of sequences, host memory) and, for plain attention (no sliding window,
// no compressed-latent attention), the K and V rows of every layer the stock cache keeps (DeltaKV: its full layers).
static uint64_t context_bytes_lower_bound(const llama_model * model, uint64_t n_ctx, ggml_type kv_type,
                                          const llama_deltakv * dkv) {
    const uint64_t cell_bookkeeping = 2 * sizeof(llama_pos) + 256 / 8;
    uint64_t bytes = n_ctx * cell_bookkeeping;

    char arch[64];
    if (llama_model_meta_val_str(model, "general.architecture", arch, sizeof(arch)) < 0) {
        return bytes;
    }
    const std::string a = arch;
    if (llama_model_n_swa(model) > 0 || model_meta_int(model, a + ".attention.kv_lora_rank", 0) > 0) {
        return bytes;
    }
    const int64_t n_head    = std::max(1, llama_model_n_head(model));
    const int64_t n_head_kv = llama_model_n_head_kv(model);
    const int64_t head_k    = model_meta_int(model, a + ".attention.key_length", llama_model_n_embd(model) / n_head);
    const int64_t head_v    = model_meta_int(model, a + ".attention.value_length", head_k);
    const uint64_t row = ggml_row_size(kv_type, head_k * n_head_kv) + ggml_row_size(kv_type, head_v * n_head_kv);
    for (int32_t il = 0; il < llama_model_n_layer(model); ++il) {
        if (dkv == nullptr || llama_deltakv_is_full_layer(dkv, il)) {
            bytes += n_ctx * row;
        }
    }
    return bytes;
}

// Memory this process can be given: the machine's RAM and every accelerator's free memory.
// The host's memory and the free memory of the model's devices
static uint64_t memory_available(const model_handle * model) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        const bool cpu  = ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU;
        const bool used = std::find(model->devices.begin(), model->devices.end(), dev) != model->devices.end();
        if (cpu || used) {
            size_t free = 0;
            size_t total = 0;
            ggml_backend_dev_memory(dev, &free, &total);
            bytes += cpu ? total : free;
        }
    }
    return bytes;
}

static std::string gib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f GiB", bytes / 1073741824.0);
    return buf;
}

session_handle * new_session(model_handle * model, uint32_t n_ctx, uint32_t n_batch, int32_t n_threads,
                             int32_t flash_attn, const deltakv_config & deltakv, ggml_type kv_type,
                             uint32_t n_seq_max) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = n_ctx;
    cp.n_batch         = n_batch;
    cp.n_ubatch        = n_batch;
    cp.n_seq_max       = std::max(1u, n_seq_max);
    cp.kv_unified      = cp.n_seq_max > 1; // the sequences share the context's cells
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
    const uint64_t need  = context_bytes_lower_bound(model->model, n_ctx, kv_type, s->dkv);
    const uint64_t avail = memory_available(model);
    if (need > avail) {
        delete s;
        throw std::runtime_error("a context of " + std::to_string(n_ctx) + " tokens needs at least " + gib(need) +
                                 ", more than this machine's " + gib(avail) + " (RAM and free accelerator memory): "
                                 "choose a smaller contextSize");
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

std::vector<llama_token> tokenize_prompt(const llama_vocab * vocab, const std::string & prompt,
                                         const std::vector<std::string> & contents) {
    // the spans of the contents that would parse as special tokens, found in order
    std::vector<std::pair<size_t, size_t>> text_spans;
    size_t from = 0;
    for (const std::string & c : contents) {
        if (c.empty()) {
            continue;
        }
        const size_t at = prompt.find(c, from);
        const bool special = tokenize(vocab, c, false, true) != tokenize(vocab, c, false, false);
        if (at == std::string::npos) {
            if (special) {
                throw std::runtime_error("a message's content holds special-token text that the chat template "
                                         "changed, so it cannot be kept as text");
            }
            continue;
        }
        if (special) {
            text_spans.emplace_back(at, at + c.size());
        }
        from = at + c.size();
    }
    if (text_spans.empty()) {
        return tokenize(vocab, prompt, true, true);
    }
    std::vector<llama_token> out;
    size_t pos = 0;
    auto add = [&](size_t end, bool parse_special) {
        if (end > pos) {
            const auto t = tokenize(vocab, prompt.substr(pos, end - pos), pos == 0, parse_special);
            out.insert(out.end(), t.begin(), t.end());
        }
        pos = end;
    };
    for (const auto & [begin, end] : text_spans) {
        add(begin, true);  // the template's markup
        add(end, false);   // the content, as text
    }
    add(prompt.size(), true);
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
        llama_sampler * grammar = nullptr;
        if (sp.grammar_lazy) {
            std::vector<const char *> patterns;
            for (const auto & p : sp.grammar_trigger_patterns) {
                patterns.push_back(p.c_str());
            }
            grammar = llama_sampler_init_grammar_lazy_patterns(vocab, sp.grammar.c_str(), "root", patterns.data(),
                                                               patterns.size(), sp.grammar_trigger_tokens.data(),
                                                               sp.grammar_trigger_tokens.size());
        } else {
            grammar = llama_sampler_init_grammar(vocab, sp.grammar.c_str(), "root");
        }
        if (grammar == nullptr) {
            llama_sampler_free(chain);
            throw std::runtime_error("the output grammar does not parse");
        }
        try {
            for (const llama_token t : sp.grammar_prefill) {
                llama_sampler_accept(grammar, t);
            }
        } catch (const std::exception & e) {
            llama_sampler_free(grammar);
            llama_sampler_free(chain);
            throw std::runtime_error(std::string("the output grammar does not accept the answer's opening: ") + e.what());
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

struct batch_guard {
    llama_batch b;
    ~batch_guard() { llama_batch_free(b); }
};

static int32_t tokens_held(llama_context * ctx, llama_seq_id seq = 0) {
    return llama_memory_seq_pos_max(llama_get_memory(ctx), seq) + 1;
}

generation_result session_handle::generate(const std::vector<llama_token> & tokens, int32_t n_keep,
                                           const sampling_params & sp, const generation_callbacks & cb) {
    generation_result res;
    cancel_requested = false;
    const int32_t n_batch = (int32_t) llama_n_batch(ctx);
    run_handle * run = begin_run(0, tokens, n_keep, sp); // a bad grammar fails before any work
    const int32_t todo = (int32_t) tokens.size() - run->n_kept;
    run_event ev;
    auto evaluated = [&] { return run->n_cached - run->n_kept; };
    try {
        // the prompt, a batch a call, then the answer a token a call
        while (ev.token < 0 && ev.finish < 0) {
            const int32_t rc = prefill_run(run, n_batch, ev);
            if (rc == 2 || cancel_requested) {
                res.finish = FINISH_CANCELLED;
                break;
            }
            if (rc != 0) {
                throw std::runtime_error("llama_decode failed on the prompt (code " + std::to_string(rc) + ")");
            }
            if (cb.on_prefill && todo > n_batch) {
                cb.on_prefill(evaluated(), todo);
            }
        }
        res.n_evaluated = evaluated();
        while (res.finish != FINISH_CANCELLED) {
            if (ev.token >= 0) {
                res.n_generated++;
                if (cb.on_token && !cb.on_token(ev.token, ev.piece)) {
                    res.finish = cancel_requested ? FINISH_CANCELLED : FINISH_STOPPED;
                    break;
                }
            }
            if (ev.finish >= 0) {
                res.finish = ev.finish;
                break;
            }
            if (cancel_requested) {
                res.finish = FINISH_CANCELLED;
                break;
            }
            std::vector<run_event> evs;
            const int32_t rc = decode_runs({run}, evs);
            if (rc == 2) {
                res.finish = FINISH_CANCELLED;
            } else if (rc == 1) {
                res.finish = FINISH_CONTEXT_FULL;
            } else if (rc != 0) {
                throw std::runtime_error("llama_decode failed while generating (code " + std::to_string(rc) + ")");
            } else {
                ev = evs[0];
                continue;
            }
            break;
        }
    } catch (...) {
        end_run(run, true);
        throw;
    }
    end_run(run, res.finish == FINISH_CANCELLED); // a cancelled answer's cells go; the prompt stays for the next call
    res.n_past = tokens_held(ctx);
    return res;
}

//
// the serving engine's steps
//

run_handle::~run_handle() {
    llama_sampler_free(sampler);
}

int32_t session_handle::seq_tokens(llama_seq_id seq) const {
    return tokens_held(ctx, seq);
}

void session_handle::evict_window(llama_seq_id seq, int32_t n_past) {
    if (evict_recent > 0 && n_past > evict_sink + evict_recent) {
        llama_memory_seq_rm(llama_get_memory(ctx), seq, evict_sink, n_past - evict_recent);
    }
}

run_handle * session_handle::begin_run(llama_seq_id seq, const std::vector<llama_token> & tokens, int32_t n_keep,
                                       const sampling_params & sp) {
    const int32_t n_ctx = (int32_t) llama_n_ctx(ctx);
    const int32_t n_tok = (int32_t) tokens.size();
    if (n_tok == 0) {
        throw std::runtime_error("empty prompt");
    }
    if (n_tok > n_ctx) {
        throw std::runtime_error("prompt of " + std::to_string(n_tok) + " tokens does not fit the context of " +
                                 std::to_string(n_ctx) + " tokens");
    }
    if (seq < 0 || seq >= (llama_seq_id) llama_n_seq_max(ctx)) {
        throw std::runtime_error("sequence " + std::to_string(seq) + " is not one of the context's");
    }
    auto run = std::make_unique<run_handle>();
    run->sampler = make_sampler(model->vocab, sp); // a bad grammar fails before anything changes
    run->seq     = seq;
    run->prompt  = tokens;
    run->sp      = sp;
    // keep the cached prefix, but always evaluate at least the last prompt token (for its logits); a window-evicted
    // sequence has holes: nothing is kept
    n_keep = evict_recent > 0 ? 0 : std::max(0, std::min(n_keep, std::min(n_tok - 1, tokens_held(ctx, seq))));
    llama_memory_t mem = llama_get_memory(ctx);
    if (!llama_memory_seq_rm(mem, seq, n_keep, -1)) {
        llama_memory_seq_rm(mem, seq, -1, -1); // cannot cut here: start over
        n_keep = 0;
    }
    run->n_kept   = n_keep;
    run->n_cached = n_keep;
    run->n_past   = n_keep;
    return run.release();
}

// the token at logits row idx of the last decode, sampled for the run
static void sample_run(session_handle * s, run_handle * run, int32_t idx, run_event & ev) {
    const llama_vocab * vocab = s->model->vocab;
    const llama_token   tok   = llama_sampler_sample(run->sampler, s->ctx, idx);
    if (llama_vocab_is_eog(vocab, tok)) {
        ev.finish = FINISH_EOG;
        return;
    }
    run->n_generated++;
    run->next = tok;
    ev.token  = tok;
    const auto & special = run->sp.special_tokens;
    ev.piece  = token_piece(vocab, tok, std::find(special.begin(), special.end(), tok) != special.end());
    if (run->sp.max_tokens >= 0 && run->n_generated >= run->sp.max_tokens) {
        ev.finish = FINISH_MAX_TOKENS;
    } else if (run->n_past >= (int32_t) llama_n_ctx(s->ctx)) {
        ev.finish = FINISH_CONTEXT_FULL;
    }
}

int32_t session_handle::prefill_run(run_handle * run, int32_t max_tokens, run_event & ev) {
    ev = run_event{};
    const int32_t n_tok = (int32_t) run->prompt.size();
    const int32_t end   = std::min(n_tok, run->n_cached + std::clamp(max_tokens, 1, (int32_t) llama_n_batch(ctx)));
    batch_guard batch{llama_batch_init(end - run->n_cached, 0, 1)};
    for (int32_t i = run->n_cached; i < end; ++i) {
        const int32_t j = batch.b.n_tokens++;
        batch.b.token[j]     = run->prompt[i];
        batch.b.pos[j]       = i;
        batch.b.n_seq_id[j]  = 1;
        batch.b.seq_id[j][0] = run->seq;
        batch.b.logits[j]    = i == n_tok - 1;
    }
    const int32_t rc = llama_decode(ctx, batch.b);
    if (rc != 0) {
        return rc;
    }
    run->n_cached = end;
    run->n_past   = end;
    evict_window(run->seq, end);
    if (end == n_tok) {
        sample_run(this, run, batch.b.n_tokens - 1, ev);
    }
    return 0;
}

int32_t session_handle::decode_runs(const std::vector<run_handle *> & runs, std::vector<run_event> & evs) {
    evs.assign(runs.size(), run_event{});
    batch_guard batch{llama_batch_init((int32_t) runs.size(), 0, 1)};
    for (run_handle * run : runs) {
        if (run->next < 0) {
            throw std::runtime_error("a run decodes after its prompt, once it has a token");
        }
        evict_window(run->seq, run->n_past);
        const int32_t j = batch.b.n_tokens++;
        batch.b.token[j]     = run->next;
        batch.b.pos[j]       = run->n_past;
        batch.b.n_seq_id[j]  = 1;
        batch.b.seq_id[j][0] = run->seq;
        batch.b.logits[j]    = true;
    }
    const int32_t rc = llama_decode(ctx, batch.b);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < runs.size(); ++i) {
        runs[i]->n_past++;
        sample_run(this, runs[i], (int32_t) i, evs[i]);
    }
    return 0;
}

void session_handle::end_run(run_handle * run, bool drop_answer) {
    llama_memory_t mem = llama_get_memory(ctx);
    const int32_t  n_tok = (int32_t) run->prompt.size();
    if (drop_answer && !llama_memory_seq_rm(mem, run->seq, n_tok, -1)) {
        llama_memory_seq_rm(mem, run->seq, -1, -1); // an answer's cells go; where they cannot alone, all go
    }
    delete run;
}

namespace {

// per decode step, each layer's max-over-heads attention row, captured from the graph's kq_soft_max-<il>
struct attention_capture {
    bool                            active  = false; // off while the prompt is read
    int32_t                         n_layer = 0;
    std::vector<std::vector<float>> rows; // [n_layer][n_kv]
};

bool capture_attention(ggml_tensor * t, bool ask, void * user) {
    auto * cap = static_cast<attention_capture *>(user);
    const bool wanted = cap->active && strncmp(t->name, "kq_soft_max-", 12) == 0;
    if (ask || !wanted) {
        return wanted;
    }
    const int il = atoi(t->name + 12);
    if (il < 0 || il >= cap->n_layer || t->type != GGML_TYPE_F32) {
        return true;
    }
    // [n_kv, n_tokens (1), n_head]
    const int64_t n_kv = t->ne[0];
    std::vector<float> data(ggml_nelements(t));
    ggml_backend_tensor_get(t, data.data(), 0, ggml_nbytes(t));
    std::vector<float> & row = cap->rows[il];
    row.assign(n_kv, 0.0f);
    for (int64_t h = 0; h < t->ne[2]; ++h) {
        for (int64_t k = 0; k < n_kv; ++k) {
            row[k] = std::max(row[k], data[h * t->ne[0] * t->ne[1] + k]);
        }
    }
    return true;
}

}

std::vector<int32_t> select_full_layers(model_handle * model, const std::vector<llama_token> & tokens, int32_t n_probe,
                                        int32_t n_full, int32_t top_k, int32_t n_sink, int32_t n_recent,
                                        int32_t n_threads) {
    const int32_t n_layer = llama_model_n_layer(model->model);
    const int32_t n_tok   = (int32_t) tokens.size();
    if (n_full < 1 || n_full > n_layer || n_probe < 1 || n_tok - n_probe <= n_sink + n_recent + top_k) {
        throw std::runtime_error("full-layer selection needs 1 <= n_full <= layers and more text than sink + recent + top-k");
    }
    attention_capture cap;
    cap.n_layer = n_layer;
    cap.rows.resize(n_layer);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx             = (uint32_t) n_tok + 16;
    cp.n_batch           = cp.n_ctx;
    cp.n_ubatch          = 512;
    cp.n_threads         = n_threads;
    cp.n_threads_batch   = n_threads;
    cp.flash_attn_type   = LLAMA_FLASH_ATTN_TYPE_DISABLED; // the softmax is a graph node only without FA
    cp.no_perf           = true;
    cp.cb_eval           = capture_attention;
    cp.cb_eval_user_data = &cap;
    llama_context * ctx = llama_init_from_model(model->model, cp);
    if (ctx == nullptr) {
        throw std::runtime_error("cannot create a context for full-layer selection");
    }
    std::vector<std::vector<double>> pair(n_layer, std::vector<double>(n_layer, 0.0));
    const int32_t n_prompt = n_tok - n_probe;
    bool ok = llama_decode(ctx, llama_batch_get_one(const_cast<llama_token *>(tokens.data()), n_prompt)) == 0;
    cap.active = true;
    for (int32_t s = 0; ok && s < n_probe; ++s) {
        llama_token t = tokens[n_prompt + s];
        ok = llama_decode(ctx, llama_batch_get_one(&t, 1)) == 0;
        const int32_t n_past = n_prompt + s + 1;
        const int32_t lo = n_sink;
        const int32_t hi = n_past - n_recent;
        if (!ok || hi - lo <= top_k) {
            continue;
        }
        std::vector<std::vector<char>> top(n_layer, std::vector<char>(hi, 0));
        for (int32_t il = 0; il < n_layer; ++il) {
            const std::vector<float> & row = cap.rows[il];
            if ((int32_t) row.size() < hi) {
                continue;
            }
            std::vector<int32_t> idx(hi - lo);
            for (int32_t k = lo; k < hi; ++k) {
                idx[k - lo] = k;
            }
            std::partial_sort(idx.begin(), idx.begin() + top_k, idx.end(),
                              [&row](int32_t a, int32_t b) { return row[a] > row[b]; });
            for (int32_t k = 0; k < top_k; ++k) {
                top[il][idx[k]] = 1;
            }
        }
        for (int32_t a = 0; a < n_layer; ++a) {
            for (int32_t b = a + 1; b < n_layer; ++b) {
                int32_t both = 0;
                for (int32_t k = lo; k < hi; ++k) {
                    both += top[a][k] & top[b][k];
                }
                pair[a][b] += both;
            }
        }
    }
    llama_free(ctx);
    if (!ok) {
        throw std::runtime_error("llama_decode failed during full-layer selection");
    }
    // f[j][c]: best overlap of layers j.. with j full and c more full layers after it
    std::vector<std::vector<double>>  f(n_layer, std::vector<double>(n_full, -1.0));
    std::vector<std::vector<int32_t>> next(n_layer, std::vector<int32_t>(n_full, -1));
    for (int32_t j = n_layer - 1; j >= 0; --j) {
        double seg = 0;
        for (int32_t t = j + 1; t < n_layer; ++t) {
            seg += pair[j][t];
        }
        f[j][0] = seg;
        for (int32_t c = 1; c < n_full; ++c) {
            double run = 0; // overlap of j with the layers before the next full one
            for (int32_t k = j + 1; k < n_layer; ++k) {
                if (f[k][c - 1] >= 0 && run + f[k][c - 1] > f[j][c]) {
                    f[j][c]    = run + f[k][c - 1];
                    next[j][c] = k;
                }
                run += pair[j][k];
            }
        }
    }
    std::vector<int32_t> full = {0};
    for (int32_t j = 0, c = n_full - 1; c > 0; --c) {
        j = next[j][c];
        if (j < 0) {
            throw std::runtime_error("full-layer selection found no solution");
        }
        full.push_back(j);
    }
    return full;
}

std::vector<std::string> kv_bytes_by_device(session_handle * s) {
    std::vector<std::string> out;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(s->ctx)) {
        if (mb.context > 0) {
            out.push_back(std::string(ggml_backend_buft_name(buft)) + "=" + std::to_string(mb.context));
        }
    }
    return out;
}

std::vector<int64_t> kv_stats(session_handle * s) {
    int64_t kv_bytes = 0;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(s->ctx)) {
        (void) buft;
        kv_bytes += (int64_t) mb.context;
    }
    int64_t held = 0, held_size = 0; // over the context's sequences
    for (llama_seq_id seq = 0; seq < (llama_seq_id) llama_n_seq_max(s->ctx); ++seq) {
        const int64_t n = tokens_held(s->ctx, seq);
        held      += n;
        held_size += n > 0 ? (int64_t) llama_state_seq_get_size(s->ctx, seq) : 0;
    }
    std::vector<int64_t> out = {(int64_t) llama_n_ctx(s->ctx), held, kv_bytes, held_size};
    llama_deltakv_stats ds{};
    if (llama_deltakv_get_stats(s->ctx, &ds)) {
        out.insert(out.end(), {ds.n_tokens, ds.n_compressed, ds.n_refs, ds.n_raw, ds.bytes_full_layers,
                               ds.bytes_exact_rows, ds.bytes_latents, ds.bytes_ref_ids, ds.bytes_stock,
                               ds.alloc_bytes, ds.alloc_bytes_stock, ds.bytes_compressor});
    }
    return out;
}

} // namespace dkv
