// The native half of the provider: a loaded model, a context over it, and the decode loop.
// Plain C++ (no JNI), so the loop can be read and tested on its own.
#pragma once

#include "llama.h"
#include "llama-deltakv.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dkv {

struct model_handle {
    llama_model *                   model = nullptr;
    const llama_vocab *             vocab = nullptr;
    std::vector<ggml_backend_dev_t> devices; // the devices its layers may use (besides the CPU)

    ~model_handle();
};

// Sampling settings of one request (values as llama.cpp's samplers take them).
struct sampling_params {
    float    temperature       = 0.8f;  // <= 0: greedy
    int32_t  top_k             = 40;    // <= 0: off
    float    top_p             = 0.95f; // >= 1: off
    float    min_p             = 0.05f; // <= 0: off
    float    repeat_penalty    = 1.0f;  // 1: off
    int32_t  repeat_last_n     = 64;
    float    frequency_penalty = 0.0f;
    float    presence_penalty  = 0.0f;
    uint32_t seed              = LLAMA_DEFAULT_SEED;
    int32_t  max_tokens        = -1;    // < 0: until the context is full
    std::string grammar;                // GBNF the output must follow ("" = free text)
    // a lazy grammar is off until a trigger: a token of grammar_trigger_tokens, or generated text matching one of
    // grammar_trigger_patterns (regular expressions); from there on the output follows the grammar
    bool                     grammar_lazy = false;
    std::vector<std::string> grammar_trigger_patterns;
    std::vector<llama_token> grammar_trigger_tokens;
    std::vector<llama_token> grammar_prefill; // tokens the (non-lazy) grammar reads before the first sampled one
    std::vector<llama_token> special_tokens;  // tokens handed over as their text, not as "" (e.g. <tool_call>)
};

// Why generation ended.
enum finish_reason : int32_t {
    FINISH_EOG          = 0, // the model ended its turn
    FINISH_MAX_TOKENS   = 1, // max_tokens reached
    FINISH_CONTEXT_FULL = 2, // no room left in the context
    FINISH_STOPPED      = 3, // the token callback asked to stop (stop string, client)
    FINISH_CANCELLED    = 4, // cancel() was called
};

struct generation_result {
    int32_t finish      = FINISH_EOG;
    int32_t n_evaluated = 0; // prompt tokens run through the model (the rest came from the cache)
    int32_t n_generated = 0; // tokens sampled and handed to the callback
    int32_t n_past      = 0; // tokens now held in the KV cache for sequence 0
};

struct generation_callbacks {
    // a sampled token and its text bytes; return false to stop
    std::function<bool(llama_token, const std::string &)> on_token;
    // prompt evaluation progress (tokens done, tokens to do)
    std::function<void(int32_t, int32_t)>                  on_prefill;
};

// One request of a session that serves several at once (the provider's serving engine): its sequence, prompt and
// sampler, and how far it is. Made by session_handle::begin_run, advanced by prefill_run and decode_runs, ended by
// end_run, all on the one thread that owns the session.
struct run_handle {
    llama_seq_id             seq         = 0;
    std::vector<llama_token> prompt;
    int32_t                  n_kept      = 0;  // prompt tokens the sequence held before this run
    int32_t                  n_cached    = 0;  // prompt tokens in the cache now (kept, then evaluated)
    sampling_params          sp;
    llama_sampler *          sampler     = nullptr;
    llama_token              next        = -1; // sampled and handed over, decoded at the next step (-1: none)
    int32_t                  n_past      = 0;  // positions the sequence holds
    int32_t                  n_generated = 0;

    ~run_handle();
};

// What a step gave one run: a sampled token and its text, or the end of the run (or, during the prompt, nothing).
struct run_event {
    llama_token token  = -1; // -1: no token (the prompt goes on, or the run ended without one)
    std::string piece;
    int32_t     finish = -1; // -1: the run goes on; else a finish_reason
};

// DeltaKV compressed KV memory for a session: the compressor side file and overrides of its settings.
struct deltakv_config {
    std::string          path;        // "" = stock KV cache
    llama_deltakv_params params = llama_deltakv_default_params();
    std::vector<int32_t> full_layers; // empty: the side file's
};

// A sequence's KV state set aside (the prefix cache), in native memory: any size, outside the Java heap.
struct saved_state {
    std::vector<uint8_t> bytes;
};

struct session_handle {
    model_handle *     model = nullptr;
    llama_deltakv *    dkv   = nullptr; // DeltaKV compressor, freed after the context
    llama_context *    ctx   = nullptr;
    std::atomic<bool>  cancel_requested{false};
    // sink + recent-window eviction (a baseline, StreamingLLM's rule): when evict_recent > 0, after each
    // prompt chunk and before each generated token only the first evict_sink and the last evict_recent
    // positions stay in the cache; the middle is dropped, positions are not shifted; no prefix reuse
    int32_t            evict_sink   = 0;
    int32_t            evict_recent = 0;

    ~session_handle();

    // Run `tokens` as the prompt of sequence 0, keeping the first `n_keep` tokens already in
    // the cache, then sample until a stop. A cancelled answer's tokens are dropped from the cache (the prompt
    // stays, for the next call to reuse). Throws std::runtime_error on decode failure.
    generation_result generate(const std::vector<llama_token> & tokens, int32_t n_keep,
                               const sampling_params & sp, const generation_callbacks & cb);

    // The serving engine's steps, several sequences in one context. A run takes sequence seq with the first n_keep
    // tokens of `tokens` kept from what the sequence held (at least the last prompt token is evaluated); throws
    // std::runtime_error for a prompt that does not fit or a grammar that does not parse.
    run_handle * begin_run(llama_seq_id seq, const std::vector<llama_token> & tokens, int32_t n_keep,
                           const sampling_params & sp);

    // Evaluates up to max_tokens more of the run's prompt in one llama_decode; once the prompt is done, samples the
    // first token into ev. Returns llama_decode's code (0: done, 1: no room in the cache, 2: aborted).
    int32_t prefill_run(run_handle * run, int32_t max_tokens, run_event & ev);

    // Decodes each run's last sampled token in one llama_decode and samples the next one into evs[i]. Returns
    // llama_decode's code.
    int32_t decode_runs(const std::vector<run_handle *> & runs, std::vector<run_event> & evs);

    // Ends a run: drop_answer removes what it generated from the cache (a cancelled answer), keeping the prompt.
    void end_run(run_handle * run, bool drop_answer);

    // positions sequence seq holds
    int32_t seq_tokens(llama_seq_id seq) const;

    // window eviction (evict_recent > 0): sequence seq, which will hold n_past positions, keeps the first evict_sink
    // and the last evict_recent
    void evict_window(llama_seq_id seq, int32_t n_past);
};

// Where a model's layers go (llama_model_params): the devices by name (empty: the devices of this model's RPC servers
// and every GPU of the machine, as llama.cpp's default, but never another model's RPC servers), how the layers are
// split over them (llama_split_mode) and in what proportions (empty: by free memory).
struct model_placement {
    int32_t                  n_gpu_layers = -1;
    int32_t                  split_mode   = LLAMA_SPLIT_MODE_LAYER;
    int32_t                  main_gpu     = 0;
    std::vector<float>       tensor_split;
    std::vector<std::string> devices;
    std::vector<std::string> rpc_devices; // the devices of this model's RPC servers (add_rpc_server's names)
};

// Adds the devices of the ggml-rpc-server at endpoint ("host:port") to the process's devices, once per endpoint;
// returns their names. Throws std::runtime_error when the server cannot be reached or speaks another protocol.
std::vector<std::string> add_rpc_server(const std::string & endpoint);

model_handle *   load_model(const std::string & path, const model_placement & placement,
                            const std::function<bool(float)> & on_progress);
// nullptr when the context (or the DeltaKV compressor) cannot be made; the reason is logged. Throws
// std::runtime_error, before allocating, for a context larger than the machine's memory.
// n_seq_max > 1: that many sequences in one context, sharing its n_ctx cells (a unified cache)
session_handle * new_session(model_handle * model, uint32_t n_ctx, uint32_t n_batch, int32_t n_threads,
                             int32_t flash_attn, const deltakv_config & deltakv, ggml_type kv_type = GGML_TYPE_F16,
                             uint32_t n_seq_max = 1);

std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text, bool add_special,
                                  bool parse_special);
std::string              token_piece(const llama_vocab * vocab, llama_token token, bool special);

// The tokens of a rendered chat prompt (BOS as the vocabulary wants, the template's special tokens parsed), where the
// messages' contents (in order) stay text: a content that holds a special token's text (a document saying
// "<|end|>\n<|assistant|>") is tokenized as text, so that it cannot forge chat turns. A prompt whose contents hold no
// such text is tokenized whole, as before. Throws when such a content cannot be found verbatim in the prompt.
std::vector<llama_token> tokenize_prompt(const llama_vocab * vocab, const std::string & prompt,
                                         const std::vector<std::string> & contents);
std::string              detokenize(const llama_vocab * vocab, const std::vector<llama_token> & tokens,
                                    bool remove_special, bool unparse_special);

// Full layers chosen from attention overlap (DeltaKV spec 3.1): the model reads all but the last n_probe
// tokens, then those one at a time; at each, every layer's attention (softmax, max over heads) over the
// positions [n_sink, n_past - n_recent) gives its top_k positions, and pair[a][t] += |top(a) & top(t)|.
// Returns n_full layers, 0 first, maximizing the overlap of each full layer with the layers it would choose
// for (those up to the next full layer). A stock context without flash attention, on the CPU layers the
// model has.
std::vector<int32_t> select_full_layers(model_handle * model, const std::vector<llama_token> & tokens, int32_t n_probe,
                                        int32_t n_full, int32_t top_k, int32_t n_sink, int32_t n_recent,
                                        int32_t n_threads);

// KV memory: {n_ctx, tokens held, bytes allocated for KV, bytes of the held tokens} (over all sequences), then with
// DeltaKV the 11 fields of llama_deltakv_stats in their order
std::vector<int64_t> kv_stats(session_handle * s);

// "name=bytes" for each buffer type that holds KV memory of the context (a device's, e.g. CUDA0, RPC0[host:port], CPU)
std::vector<std::string> kv_bytes_by_device(session_handle * s);

} // namespace dkv
