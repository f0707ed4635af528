// JNI entry points of io.github.deltakv.langchain4j.internal.LlamaNative.
// Handles are native pointers passed as jlong; every body catches C++ exceptions and turns them
// into DeltaKvException, and every failure llama.cpp reports becomes a message naming the cause.
#include "chat_format.h"
#include "json-schema-to-grammar.h"
#include "json.h"
#include "engine.h"
#include "jni_util.h"

#include "ggml-backend.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#define JNI_FN(name) JNICALL Java_io_github_deltakv_langchain4j_internal_LlamaNative_##name

using namespace dkv;

template <typename T> static T * handle(jlong h) { return reinterpret_cast<T *>(h); }

static std::string with_cause(const std::string & what) {
    const std::string cause = recent_errors();
    return cause.empty() ? what : what + ": " + cause;
}

static jintArray to_jints(JNIEnv * env, const std::vector<llama_token> & v) {
    jintArray out = env->NewIntArray((jsize) v.size());
    if (out != nullptr) {
        env->SetIntArrayRegion(out, 0, (jsize) v.size(), reinterpret_cast<const jint *>(v.data()));
    }
    return out;
}

static std::vector<llama_token> from_jints(JNIEnv * env, jintArray a) {
    std::vector<llama_token> v((size_t) env->GetArrayLength(a));
    env->GetIntArrayRegion(a, 0, (jsize) v.size(), reinterpret_cast<jint *>(v.data()));
    return v;
}

extern "C" {

JNIEXPORT void JNI_FN(initBackends)(JNIEnv * env, jclass, jstring backend_dir) {
    DKV_TRY
    install_log_forwarding(env);
    install_abort_handler();
    const std::string dir = jstring_to_utf8(env, backend_dir);
    ggml_backend_load_all_from_path(dir.empty() ? nullptr : dir.c_str());
    llama_backend_init();
    if (ggml_backend_dev_count() == 0) {
        throw_java(env, with_cause("no ggml backend could be loaded from " + dir));
    }
    DKV_CATCH(env, )
}

JNIEXPORT jobjectArray JNI_FN(devices)(JNIEnv * env, jclass) {
    DKV_TRY
    std::vector<std::string> names;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        names.push_back(std::string(ggml_backend_dev_name(dev)) + " (" + ggml_backend_dev_description(dev) + ")");
    }
    return to_jstrings(env, names);
    DKV_CATCH(env, nullptr)
}

// {free, total} bytes of each GPU device ggml found, in order (empty without GPUs)
JNIEXPORT jlongArray JNI_FN(gpuMemory)(JNIEnv * env, jclass) {
    DKV_TRY
    std::vector<jlong> v;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) {
            size_t free = 0, total = 0;
            ggml_backend_dev_memory(dev, &free, &total);
            v.push_back((jlong) free);
            v.push_back((jlong) total);
        }
    }
    jlongArray out = env->NewLongArray((jsize) v.size());
    if (out != nullptr) {
        env->SetLongArrayRegion(out, 0, (jsize) v.size(), v.data());
    }
    return out;
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jobjectArray JNI_FN(addRpcServer)(JNIEnv * env, jclass, jstring endpoint) {
    DKV_TRY
    clear_recent_errors();
    std::vector<std::string> names;
    {
        aborts_throw guard; // ggml-rpc aborts when it cannot connect or the handshake fails: make it an exception
        names = add_rpc_server(jstring_to_utf8(env, endpoint));
    }
    return to_jstrings(env, names);
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jlong JNI_FN(loadModel)(JNIEnv * env, jclass, jstring path, jint n_gpu_layers, jint split_mode,
                                  jint main_gpu, jfloatArray tensor_split, jobjectArray devices,
                                  jobjectArray rpc_devices, jobject progress) {
    DKV_TRY
    clear_recent_errors();
    const std::string p = jstring_to_utf8(env, path);
    model_placement placement;
    placement.n_gpu_layers = n_gpu_layers;
    placement.split_mode   = split_mode;
    placement.main_gpu     = main_gpu;
    if (tensor_split != nullptr) {
        placement.tensor_split.resize(env->GetArrayLength(tensor_split));
        env->GetFloatArrayRegion(tensor_split, 0, (jsize) placement.tensor_split.size(), placement.tensor_split.data());
    }
    placement.devices     = from_jstrings(env, devices);
    placement.rpc_devices = from_jstrings(env, rpc_devices);
    std::function<bool(float)> on_progress;
    if (progress != nullptr) {
        jmethodID mid = env->GetMethodID(env->GetObjectClass(progress), "onProgress", "(F)Z");
        on_progress = [env, progress, mid](float f) {
            const bool go_on = env->CallBooleanMethod(progress, mid, (jfloat) f);
            return go_on && !env->ExceptionCheck();
        };
    }
    model_handle * m = nullptr;
    {
        aborts_throw guard; // a corrupt file fails an assert while loading: make it an exception
        m = load_model(p, placement, on_progress);
    }
    if (m == nullptr) {
        throw_java(env, with_cause("failed to load model " + p));
        return 0;
    }
    return reinterpret_cast<jlong>(m);
    DKV_CATCH(env, 0)
}

JNIEXPORT void JNI_FN(freeModel)(JNIEnv *, jclass, jlong model) {
    delete handle<model_handle>(model);
}

JNIEXPORT jstring JNI_FN(modelMeta)(JNIEnv * env, jclass, jlong model, jstring key) {
    DKV_TRY
    const std::string k = jstring_to_utf8(env, key);
    std::vector<char> buf(256);
    int32_t n = llama_model_meta_val_str(handle<model_handle>(model)->model, k.c_str(), buf.data(), buf.size());
    if (n < 0) {
        return nullptr;
    }
    if ((size_t) n >= buf.size()) {
        buf.resize((size_t) n + 1);
        llama_model_meta_val_str(handle<model_handle>(model)->model, k.c_str(), buf.data(), buf.size());
    }
    return utf8_to_jstring(env, std::string(buf.data(), (size_t) n));
    DKV_CATCH(env, nullptr)
}

// {n_ctx_train, n_layer, n_vocab, n_embd}
JNIEXPORT jintArray JNI_FN(modelInfo)(JNIEnv * env, jclass, jlong model) {
    DKV_TRY
    const model_handle * m = handle<model_handle>(model);
    std::vector<llama_token> v = {
        llama_model_n_ctx_train(m->model), llama_model_n_layer(m->model),
        llama_vocab_n_tokens(m->vocab), llama_model_n_embd(m->model),
    };
    return to_jints(env, v);
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jlong JNI_FN(newTemplates)(JNIEnv * env, jclass, jlong model, jstring override_src) {
    DKV_TRY
    aborts_throw guard;
    return reinterpret_cast<jlong>(
        new_chat_templates(handle<model_handle>(model)->model, jstring_to_utf8(env, override_src)));
    DKV_CATCH(env, 0)
}

JNIEXPORT void JNI_FN(freeTemplates)(JNIEnv *, jclass, jlong t) {
    delete handle<chat_templates>(t);
}

JNIEXPORT jstring JNI_FN(applyTemplate)(JNIEnv * env, jclass, jlong t, jstring messages_json,
                                        jboolean add_generation_prompt) {
    DKV_TRY
    const std::string prompt = apply_chat_template(handle<chat_templates>(t), jstring_to_utf8(env, messages_json),
                                                   add_generation_prompt);
    return utf8_to_jstring(env, prompt);
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jboolean JNI_FN(templateSupportsToolCalls)(JNIEnv * env, jclass, jlong t) {
    DKV_TRY
    return template_supports_tool_calls(handle<chat_templates>(t));
    DKV_CATCH(env, false)
}

JNIEXPORT jlong JNI_FN(newChatCall)(JNIEnv * env, jclass, jlong t, jstring messages_json, jstring tools_json,
                                    jstring tool_choice, jstring json_schema) {
    DKV_TRY
    return reinterpret_cast<jlong>(new_chat_call(handle<chat_templates>(t), jstring_to_utf8(env, messages_json),
                                                 jstring_to_utf8(env, tools_json), jstring_to_utf8(env, tool_choice),
                                                 jstring_to_utf8(env, json_schema)));
    DKV_CATCH(env, 0)
}

JNIEXPORT void JNI_FN(freeChatCall)(JNIEnv *, jclass, jlong call) {
    delete handle<chat_call>(call);
}

// {prompt, extra stop strings...}
JNIEXPORT jobjectArray JNI_FN(chatCallPrompt)(JNIEnv * env, jclass, jlong call) {
    DKV_TRY
    const common_chat_params & p = handle<chat_call>(call)->params;
    std::vector<std::string> prompt_and_stops = {p.prompt};
    prompt_and_stops.insert(prompt_and_stops.end(), p.additional_stops.begin(), p.additional_stops.end());
    return to_jstrings(env, prompt_and_stops);
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jstring JNI_FN(parseChatAnswer)(JNIEnv * env, jclass, jlong call, jbyteArray text, jboolean partial) {
    DKV_TRY
    return utf8_to_jstring(env, parse_chat_answer(handle<chat_call>(call), bytes_to_string(env, text), partial));
    DKV_CATCH(env, nullptr)
}

// deltakv_path: "" or null = stock KV cache; deltakv_settings: {n_sink, n_recent, n_neighbors, center_stride,
// top_k, latent_bits, compress_layers_per_step}, negative = the side file's value (the default); full_layers: null = the side file's; kv_type: the ggml
// type of the cache's K and V (F16, Q8_0, Q4_0, ...)
// n_seq_max: sequences served at once, sharing the context's n_ctx cells
JNIEXPORT jlong JNI_FN(newSession)(JNIEnv * env, jclass, jlong model, jint n_ctx, jint n_batch, jint n_threads,
                                   jint flash_attn, jstring deltakv_path, jintArray deltakv_settings,
                                   jfloat top_k_fraction, jintArray full_layers, jint kv_type, jint n_seq_max) {
    DKV_TRY
    clear_recent_errors();
    deltakv_config dk;
    if (deltakv_path != nullptr) {
        dk.path = jstring_to_utf8(env, deltakv_path);
    }
    if (deltakv_settings != nullptr) {
        if (env->GetArrayLength(deltakv_settings) != 7) {
            throw std::invalid_argument("DeltaKV settings: 7 values expected");
        }
        jint v[7];
        env->GetIntArrayRegion(deltakv_settings, 0, 7, v);
        dk.params.n_sink                   = v[0];
        dk.params.n_recent                 = v[1];
        dk.params.n_neighbors              = v[2];
        dk.params.center_stride            = v[3];
        dk.params.top_k                    = v[4];
        dk.params.latent_bits              = v[5];
        dk.params.compress_layers_per_step = v[6];
    }
    dk.params.top_k_fraction = top_k_fraction;
    if (full_layers != nullptr) {
        dk.full_layers.resize(env->GetArrayLength(full_layers));
        env->GetIntArrayRegion(full_layers, 0, (jsize) dk.full_layers.size(),
                               reinterpret_cast<jint *>(dk.full_layers.data()));
    }
    session_handle * s = nullptr;
    {
        aborts_throw guard;
        s = new_session(handle<model_handle>(model), (uint32_t) n_ctx, (uint32_t) n_batch, n_threads, flash_attn, dk,
                        (ggml_type) kv_type, (uint32_t) std::max(1, (int32_t) n_seq_max));
    }
    if (s == nullptr) {
        throw_java(env, with_cause(dk.path.empty()
                ? "failed to create a context of " + std::to_string(n_ctx) + " tokens"
                : "failed to create a DeltaKV context of " + std::to_string(n_ctx) + " tokens with " + dk.path));
        return 0;
    }
    return reinterpret_cast<jlong>(s);
    DKV_CATCH(env, 0)
}

JNIEXPORT void JNI_FN(setEviction)(JNIEnv * env, jclass, jlong session, jint n_sink, jint n_recent) {
    DKV_TRY
    session_handle * s = handle<session_handle>(session);
    if (s->dkv != nullptr && n_recent > 0) {
        throw std::runtime_error("window eviction cannot be combined with DeltaKV");
    }
    s->evict_sink   = std::max(0, (int32_t) n_sink);
    s->evict_recent = std::max(0, (int32_t) n_recent);
    DKV_CATCH(env, )
}

JNIEXPORT void JNI_FN(freeSession)(JNIEnv *, jclass, jlong s) {
    delete handle<session_handle>(s);
}

JNIEXPORT jintArray JNI_FN(tokenize)(JNIEnv * env, jclass, jlong model, jbyteArray text, jboolean add_special,
                                     jboolean parse_special) {
    DKV_TRY
    return to_jints(env, tokenize(handle<model_handle>(model)->vocab, bytes_to_string(env, text), add_special,
                                  parse_special));
    DKV_CATCH(env, nullptr)
}

// a rendered chat prompt's tokens, its messages' contents (in order) kept as text (engine.h)
JNIEXPORT jintArray JNI_FN(tokenizePrompt)(JNIEnv * env, jclass, jlong model, jbyteArray prompt, jobjectArray contents) {
    DKV_TRY
    std::vector<std::string> cs;
    for (jsize i = 0; i < env->GetArrayLength(contents); ++i) {
        auto * bytes = static_cast<jbyteArray>(env->GetObjectArrayElement(contents, i));
        cs.push_back(bytes_to_string(env, bytes));
        env->DeleteLocalRef(bytes);
    }
    return to_jints(env, tokenize_prompt(handle<model_handle>(model)->vocab, bytes_to_string(env, prompt), cs));
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jbyteArray JNI_FN(detokenize)(JNIEnv * env, jclass, jlong model, jintArray tokens, jboolean remove_special,
                                        jboolean unparse_special) {
    DKV_TRY
    const model_handle * m = handle<model_handle>(model);
    const auto v = from_jints(env, tokens);
    const int32_t n_vocab = llama_vocab_n_tokens(m->vocab);
    for (llama_token t : v) {
        if (t < 0 || t >= n_vocab) {
            throw_java(env, "token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                                std::to_string(n_vocab - 1) + ")");
            return nullptr;
        }
    }
    return string_to_bytes(env, detokenize(m->vocab, v, remove_special, unparse_special));
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jstring JNI_FN(jsonSchemaToGrammar)(JNIEnv * env, jclass, jstring schema_json) {
    DKV_TRY
    return utf8_to_jstring(env, json_schema_to_grammar(common_json::parse(jstring_to_utf8(env, schema_json))));
    DKV_CATCH(env, nullptr)
}

// fparams: {temperature, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty}
// iparams: {top_k, repeat_last_n, max_tokens}
// grammar: GBNF the output must follow, or null; chat_call: 0, or a chat call whose grammar and triggers apply
static sampling_params sampling_of(JNIEnv * env, const session_handle * s, jfloatArray fparams, jintArray iparams,
                                   jlong seed, jstring grammar, jlong chat_call_h) {
    float   f[6];
    jint    i[3];
    env->GetFloatArrayRegion(fparams, 0, 6, f);
    env->GetIntArrayRegion(iparams, 0, 3, i);
    sampling_params sp;
    sp.temperature       = f[0];
    sp.top_p             = f[1];
    sp.min_p             = f[2];
    sp.repeat_penalty    = f[3];
    sp.frequency_penalty = f[4];
    sp.presence_penalty  = f[5];
    sp.top_k             = i[0];
    sp.repeat_last_n     = i[1];
    sp.max_tokens        = i[2];
    sp.seed              = seed < 0 ? LLAMA_DEFAULT_SEED : (uint32_t) seed;
    sp.grammar           = jstring_to_utf8(env, grammar);
    if (chat_call_h != 0) {
        constrain_sampling(handle<chat_call>(chat_call_h), s->model->vocab, sp);
    }
    return sp;
}

// returns: {finish, n_evaluated, n_generated, n_past}
JNIEXPORT jintArray JNI_FN(generate)(JNIEnv * env, jclass, jlong session, jintArray tokens, jint n_keep,
                                     jfloatArray fparams, jintArray iparams, jlong seed, jstring grammar,
                                     jlong chat_call_h, jobject listener) {
    DKV_TRY
    clear_recent_errors();
    session_handle * s = handle<session_handle>(session);
    const sampling_params sp = sampling_of(env, s, fparams, iparams, seed, grammar, chat_call_h);

    generation_callbacks cb;
    if (listener != nullptr) {
        jclass    cls        = env->GetObjectClass(listener);
        jmethodID on_token   = env->GetMethodID(cls, "onToken", "(I[B)Z");
        jmethodID on_prefill = env->GetMethodID(cls, "onPrefill", "(II)V");
        cb.on_token = [env, listener, on_token](llama_token tok, const std::string & piece) {
            jbyteArray bytes = string_to_bytes(env, piece);
            const bool go_on = env->CallBooleanMethod(listener, on_token, (jint) tok, bytes);
            env->DeleteLocalRef(bytes);
            return go_on && !env->ExceptionCheck();
        };
        cb.on_prefill = [env, listener, on_prefill](int32_t done, int32_t total) {
            if (!env->ExceptionCheck()) {
                env->CallVoidMethod(listener, on_prefill, (jint) done, (jint) total);
            }
        };
    }
    const generation_result r = s->generate(from_jints(env, tokens), n_keep, sp, cb);
    if (env->ExceptionCheck()) {
        return nullptr; // a listener threw: let that exception through
    }
    return to_jints(env, {r.finish, r.n_evaluated, r.n_generated, r.n_past});
    DKV_CATCH(env, nullptr)
}

//
// the serving engine: runs of several sequences in one context (engine.h), called by its scheduler thread only
//

// a run of sequence seq: the prompt `tokens`, n_keep of them kept from what the sequence holds; sampling as generate's
JNIEXPORT jlong JNI_FN(beginRun)(JNIEnv * env, jclass, jlong session, jint seq, jintArray tokens, jint n_keep,
                                 jfloatArray fparams, jintArray iparams, jlong seed, jstring grammar,
                                 jlong chat_call_h) {
    DKV_TRY
    clear_recent_errors();
    session_handle * s = handle<session_handle>(session);
    const sampling_params sp = sampling_of(env, s, fparams, iparams, seed, grammar, chat_call_h);
    return reinterpret_cast<jlong>(s->begin_run(seq, from_jints(env, tokens), n_keep, sp));
    DKV_CATCH(env, 0)
}

// events[i] of a step, as {token, finish} in out at 2 i and its text in pieces[i] (null without a token)
static void put_event(JNIEnv * env, const run_event & ev, size_t i, jintArray out, jobjectArray pieces) {
    const jint v[2] = {ev.token, ev.finish};
    env->SetIntArrayRegion(out, (jsize) (2 * i), 2, v);
    jbyteArray bytes = ev.token >= 0 ? string_to_bytes(env, ev.piece) : nullptr;
    env->SetObjectArrayElement(pieces, (jsize) i, bytes);
    if (bytes != nullptr) {
        env->DeleteLocalRef(bytes);
    }
}

// up to max_tokens more of the run's prompt; returns llama_decode's code, the event in out[0..1] and pieces[0]
JNIEXPORT jint JNI_FN(prefillRun)(JNIEnv * env, jclass, jlong session, jlong run, jint max_tokens, jintArray out,
                                  jobjectArray pieces) {
    DKV_TRY
    run_event ev;
    const int32_t rc = handle<session_handle>(session)->prefill_run(handle<run_handle>(run), max_tokens, ev);
    put_event(env, ev, 0, out, pieces);
    return rc;
    DKV_CATCH(env, -1)
}

// one step of every run in runs; returns llama_decode's code, run i's event in out[2i..2i+1] and pieces[i]
JNIEXPORT jint JNI_FN(decodeRuns)(JNIEnv * env, jclass, jlong session, jlongArray runs, jintArray out,
                                  jobjectArray pieces) {
    DKV_TRY
    std::vector<jlong> handles(env->GetArrayLength(runs));
    env->GetLongArrayRegion(runs, 0, (jsize) handles.size(), handles.data());
    std::vector<run_handle *> rs;
    for (jlong h : handles) {
        rs.push_back(handle<run_handle>(h));
    }
    std::vector<run_event> evs;
    const int32_t rc = handle<session_handle>(session)->decode_runs(rs, evs);
    for (size_t i = 0; i < evs.size(); ++i) {
        put_event(env, evs[i], i, out, pieces);
    }
    return rc;
    DKV_CATCH(env, -1)
}

// ends a run; drop_answer: its generated tokens leave the cache (a cancelled answer), the prompt stays
JNIEXPORT void JNI_FN(endRun)(JNIEnv * env, jclass, jlong session, jlong run, jboolean drop_answer) {
    DKV_TRY
    handle<session_handle>(session)->end_run(handle<run_handle>(run), drop_answer);
    DKV_CATCH(env, )
}

// positions sequence seq holds
JNIEXPORT jint JNI_FN(sequenceTokens)(JNIEnv * env, jclass, jlong session, jint seq) {
    DKV_TRY
    return handle<session_handle>(session)->seq_tokens(seq);
    DKV_CATCH(env, 0)
}

// removes sequence seq from the cache
JNIEXPORT void JNI_FN(clearSequence)(JNIEnv * env, jclass, jlong session, jint seq) {
    DKV_TRY
    llama_memory_seq_rm(llama_get_memory(handle<session_handle>(session)->ctx), seq, -1, -1);
    DKV_CATCH(env, )
}

// The KV state of sequence seq, to set aside and restore later (prefix cache).
JNIEXPORT jlong JNI_FN(sequenceStateSize)(JNIEnv * env, jclass, jlong session, jint seq) {
    DKV_TRY
    return (jlong) llama_state_seq_get_size(handle<session_handle>(session)->ctx, seq);
    DKV_CATCH(env, 0)
}

JNIEXPORT jlong JNI_FN(saveSequenceState)(JNIEnv * env, jclass, jlong session, jint seq) {
    DKV_TRY
    llama_context * ctx = handle<session_handle>(session)->ctx;
    auto state = std::make_unique<saved_state>();
    state->bytes.resize(llama_state_seq_get_size(ctx, seq));
    if (llama_state_seq_get_data(ctx, state->bytes.data(), state->bytes.size(), seq) != state->bytes.size()) {
        throw_java(env, "cannot save the sequence state");
        return 0;
    }
    return reinterpret_cast<jlong>(state.release());
    DKV_CATCH(env, 0)
}

JNIEXPORT void JNI_FN(restoreSequenceState)(JNIEnv * env, jclass, jlong session, jint seq, jlong state) {
    DKV_TRY
    llama_context * ctx = handle<session_handle>(session)->ctx;
    const std::vector<uint8_t> & data = handle<saved_state>(state)->bytes;
    llama_memory_seq_rm(llama_get_memory(ctx), seq, -1, -1);
    if (llama_state_seq_set_data(ctx, data.data(), data.size(), seq) != data.size()) {
        llama_memory_seq_rm(llama_get_memory(ctx), seq, -1, -1);
        throw_java(env, with_cause("cannot restore the sequence state"));
    }
    DKV_CATCH(env, )
}

JNIEXPORT void JNI_FN(freeSequenceState)(JNIEnv *, jclass, jlong state) {
    delete handle<saved_state>(state);
}

JNIEXPORT void JNI_FN(cancel)(JNIEnv *, jclass, jlong session) {
    handle<session_handle>(session)->cancel_requested = true;
}

// The session's DeltaKV compressor settings as "key=value" (what it was made for, then its settings); empty
// without DeltaKV memory
JNIEXPORT jobjectArray JNI_FN(kvBytesByDevice)(JNIEnv * env, jclass, jlong session) {
    DKV_TRY
    return to_jstrings(env, kv_bytes_by_device(handle<session_handle>(session)));
    DKV_CATCH(env, nullptr)
}

JNIEXPORT jobjectArray JNI_FN(deltaKvSettings)(JNIEnv * env, jclass, jlong session) {
    DKV_TRY
    static const char * keys[] = {"model_name", "model_layout", "model_matches", "architecture", "n_layer",
                                  "latent_dim", "encoder", "full_layers", "n_sink", "n_recent", "n_neighbors",
                                  "center_stride", "top_k", "top_k_fraction", "latent_bits",
                                  "latent_group"};
    const llama_deltakv * dkv = handle<session_handle>(session)->dkv;
    std::vector<std::string> entries;
    char buf[256];
    for (const char * k : keys) {
        if (dkv != nullptr && llama_deltakv_meta_val_str(dkv, k, buf, sizeof(buf)) >= 0) {
            entries.push_back(std::string(k) + "=" + buf);
        }
    }
    return to_jstrings(env, entries);
    DKV_CATCH(env, nullptr)
}

// DeltaKV latents of the session's sequence in layer il, F32 rows of latent_dim (calibration); null when the
// session has no DeltaKV memory or il is a full layer
JNIEXPORT jfloatArray JNI_FN(deltaKvLatents)(JNIEnv * env, jclass, jlong session, jint il) {
    DKV_TRY
    session_handle * s = handle<session_handle>(session);
    const int64_t n = llama_deltakv_get_latents(s->ctx, 0, il, nullptr, 0);
    if (n < 0 || s->dkv == nullptr) {
        return nullptr;
    }
    char buf[32];
    llama_deltakv_meta_val_str(s->dkv, "latent_dim", buf, sizeof(buf));
    const int64_t width = std::atoll(buf);
    std::vector<float> rows((size_t) (n * width));
    const int64_t got = n > 0 ? llama_deltakv_get_latents(s->ctx, 0, il, rows.data(), n) : 0;
    rows.resize((size_t) (got * width));
    jfloatArray out = env->NewFloatArray((jsize) rows.size());
    if (out != nullptr) {
        env->SetFloatArrayRegion(out, 0, (jsize) rows.size(), rows.data());
    }
    return out;
    DKV_CATCH(env, nullptr)
}

// full layers chosen from attention overlap (DeltaKV spec 3.1), layer 0 first
JNIEXPORT jintArray JNI_FN(selectFullLayers)(JNIEnv * env, jclass, jlong model, jintArray tokens, jint n_probe,
                                             jint n_full, jint top_k, jint n_sink, jint n_recent, jint n_threads) {
    DKV_TRY
    clear_recent_errors();
    std::vector<int32_t> full;
    {
        aborts_throw guard;
        full = select_full_layers(handle<model_handle>(model), from_jints(env, tokens), n_probe, n_full, top_k, n_sink,
                                  n_recent, n_threads);
    }
    return to_jints(env, full);
    DKV_CATCH(env, nullptr)
}

// {n_ctx, tokens held, KV bytes allocated, bytes of the held tokens}
JNIEXPORT jlongArray JNI_FN(kvStats)(JNIEnv * env, jclass, jlong session) {
    DKV_TRY
    const std::vector<int64_t> v = kv_stats(handle<session_handle>(session));
    jlongArray out = env->NewLongArray((jsize) v.size());
    env->SetLongArrayRegion(out, 0, (jsize) v.size(), reinterpret_cast<const jlong *>(v.data()));
    return out;
    DKV_CATCH(env, nullptr)
}

} // extern "C"
