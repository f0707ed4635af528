package io.github.deltakv.langchain4j.internal;

import io.github.deltakv.langchain4j.SplitMode;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The native methods of libdeltakv_jni. Handles are native pointers; every method throws
 * {@link io.github.deltakv.langchain4j.DeltaKvException} on failure. Load the library through
 * {@link NativeLoader} before calling any of them.
 */
public final class LlamaNative {

    private static final Logger LLAMA_LOG = LoggerFactory.getLogger("io.github.deltakv.langchain4j.llama");

    /** The CUDA backend's "Device N: NAME, compute capability X.Y, ..." log lines, as it loaded. */
    static final List<String> CUDA_DEVICE_LINES = new java.util.concurrent.CopyOnWriteArrayList<>();

    private LlamaNative() {
    }

    /** Loads ggml's backends from {@code backendDir} and initialises llama.cpp. */
    public static native void initBackends(String backendDir);

    /** The compute devices ggml found, e.g. "CPU (AMD EPYC)". */
    public static native String[] devices();

    /** {free, total} bytes of each GPU device ggml found, in order; empty without GPUs. */
    public static native long[] gpuMemory();

    /**
     * Loads a GGUF model; {@code gpuLayers} -1 offloads all layers to the GPUs when there are some. {@code splitMode}
     * is llama_split_mode's value, {@code tensorSplit} the proportions per device (null: by free memory),
     * {@code devices} the devices by name (null: {@code rpcDevices}, the devices of this model's RPC servers, and every
     * GPU).
     */
    public static native long loadModel(String path, int gpuLayers, int splitMode, int mainGpu, float[] tensorSplit,
                                        String[] devices, String[] rpcDevices, LoadProgress progress);

    /** Loads a GGUF model with llama.cpp's default placement: layers split over every GPU, when there are some. */
    public static long loadModel(String path, int gpuLayers, LoadProgress progress) {
        return loadModel(path, gpuLayers, SplitMode.LAYER.ordinal(), 0, null, null, new String[0], progress);
    }

    /** Adds the devices of the ggml-rpc-server at {@code endpoint} ("host:port"), once; returns their names. */
    public static native String[] addRpcServer(String endpoint);

    public static native void freeModel(long model);

    /** A GGUF metadata value as text, or null when the key is absent. */
    public static native String modelMeta(long model, String key);

    /** {n_ctx_train, n_layer, n_vocab, n_embd}. */
    public static native int[] modelInfo(long model);

    /** Chat templates of a model; {@code templateOverride} "" keeps the model's own. */
    public static native long newTemplates(long model, String templateOverride);

    public static native void freeTemplates(long templates);

    /** Renders OpenAI-style JSON messages to a prompt (a call with tools: {@link #newChatCall}). */
    public static native String applyTemplate(long templates, String messagesJson, boolean addGenerationPrompt);

    /** Whether the template both renders tools and has a format for tool calls in the answer. */
    public static native boolean templateSupportsToolCalls(long templates);

    /**
     * A chat call with tools: renders {@code messagesJson} with {@code toolsJson} (an OpenAI-style JSON array)
     * through the template's tool support; {@code toolChoice} "auto", "required" or "none"; {@code jsonSchema}
     * a schema the answer's content must follow, or null. Free it with {@link #freeChatCall}.
     */
    public static native long newChatCall(long templates, String messagesJson, String toolsJson, String toolChoice,
                                          String jsonSchema);

    public static native void freeChatCall(long chatCall);

    /** {prompt, extra stop strings the template asks for...} of a chat call. */
    public static native String[] chatCallPrompt(long chatCall);

    /**
     * A chat call's answer read back, as JSON {@code {"content", "reasoning_content", "tool_calls": [{"name",
     * "arguments", "id"}]}}; {@code partial}: the answer is still growing.
     */
    public static native String parseChatAnswer(long chatCall, byte[] utf8, boolean partial);

    /**
     * A context; {@code flashAttention} -1 auto, 0 off, 1 on. With a DeltaKV compressor path (null = stock
     * cache), {@code deltaKvSettings} = {sink, recent, neighbors, stride, top-k, latent bits, layers compressed per
     * step} (-1 keeps the side file's), {@code topKFraction} (the least fraction of a sequence's tokens a decode step
     * reconstructs; negative keeps the side file's) and {@code fullLayers} (null keeps the side file's); {@code kvType}: the ggml
     * type of the cache's K and V (1 F16, 8 Q8_0, 2 Q4_0, ...); {@code sequences}: conversations served at once,
     * sharing the context's {@code contextSize} cells.
     */
    public static native long newSession(long model, int contextSize, int batchSize, int threads, int flashAttention,
                                         String deltaKvPath, int[] deltaKvSettings, float topKFraction,
                                         int[] fullLayers, int kvType, int sequences);

    /**
     * Sink + recent-window eviction (0 recent = off): the cache keeps the first {@code sinkTokens} and the last
     * {@code recentTokens} positions of the sequence and drops the middle after each prompt chunk and each
     * generated token (positions are not shifted). Not with DeltaKV.
     */
    public static native void setEviction(long session, int sinkTokens, int recentTokens);

    public static native void freeSession(long session);

    public static native int[] tokenize(long model, byte[] utf8, boolean addSpecial, boolean parseSpecial);

    /**
     * A rendered chat prompt's tokens (BOS added, the template's special tokens parsed), its messages' texts
     * ({@code contents}, in order) kept as text: special-token text in a message cannot forge chat turns.
     */
    public static native int[] tokenizePrompt(long model, byte[] prompt, byte[][] contents);

    public static native byte[] detokenize(long model, int[] tokens, boolean removeSpecial, boolean unparseSpecial);

    /**
     * Runs {@code tokens} as the prompt of the context's sequence, keeping the first {@code keep} tokens
     * already cached, then samples until a stop.
     *
     * @param floats   {temperature, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty}
     * @param ints     {topK, repeatLastN, maxTokens (-1: no limit)}
     * @param seed     sampling seed, negative for a random one
     * @param grammar  GBNF grammar the output must follow, or null
     * @param chatCall 0, or a {@link #newChatCall chat call} whose tool-call grammar applies (grammar is then null)
     * @return {finish, prompt tokens evaluated, tokens generated, tokens now cached}; finish is one of
     *         the {@code FINISH_*} constants
     */
    public static native int[] generate(long session, int[] tokens, int keep, float[] floats, int[] ints, long seed,
                                        String grammar, long chatCall, GenerationListener listener);

    /** A GBNF grammar (llama.cpp's) for the JSON a JSON schema allows. */
    public static native String jsonSchemaToGrammar(String schemaJson);

    /*
     * The serving engine's runs: several sequences of one context, each a run from its prompt to its end. Called by
     * the one thread that owns the session. A step's event for a run is {token, finish} in {@code out} (token -1:
     * none, the prompt goes on or the run ended without one; finish -1: the run goes on, else a FINISH_* constant),
     * the token's text in {@code pieces}.
     */

    /**
     * A run of sequence {@code sequence}: the prompt {@code tokens}, of which the first {@code keep} are kept from what
     * the sequence holds; sampling as {@link #generate}'s. A native handle, for {@link #endRun}.
     */
    public static native long beginRun(long session, int sequence, int[] tokens, int keep, float[] floats, int[] ints,
                                       long seed, String grammar, long chatCall);

    /** Up to {@code maxTokens} more of the run's prompt; returns llama_decode's code (0 done, 1 no room, 2 aborted). */
    public static native int prefillRun(long session, long run, int maxTokens, int[] out, byte[][] pieces);

    /** One decode step of every run in {@code runs}, each its next token; returns llama_decode's code. */
    public static native int decodeRuns(long session, long[] runs, int[] out, byte[][] pieces);

    /** Ends a run; {@code dropAnswer}: its generated tokens leave the cache (a cancelled answer), the prompt stays. */
    public static native void endRun(long session, long run, boolean dropAnswer);

    /** The positions sequence {@code sequence} holds. */
    public static native int sequenceTokens(long session, int sequence);

    /** Removes sequence {@code sequence} from the cache. */
    public static native void clearSequence(long session, int sequence);

    /** Bytes the KV state of sequence {@code sequence} takes, known before it is copied. */
    public static native long sequenceStateSize(long session, int sequence);

    /** A copy of the KV state of sequence {@code sequence} (tokens and their keys and values) in native memory;
     *  free it with {@link #freeSequenceState}. */
    public static native long saveSequenceState(long session, int sequence);

    /** Replaces sequence {@code sequence} with a state from {@link #saveSequenceState} (the state is kept). */
    public static native void restoreSequenceState(long session, int sequence, long state);

    public static native void freeSequenceState(long state);

    /** Asks a running {@link #generate} or step to stop as soon as it can (thread-safe); the session aborts from then. */
    public static native void cancel(long session);

    /**
     * The DeltaKV latents of the context's sequence in layer {@code layer}, row-major rows of the latent
     * width (with an identity compressor: each compressed token's residual against its references); null
     * without DeltaKV memory or for a full layer.
     */
    public static native float[] deltaKvLatents(long session, int layer);

    /** The DeltaKV compressor's settings as {@code key=value} (empty without DeltaKV memory). */
    public static native String[] deltaKvSettings(long session);

    /** "device=bytes" for each device (buffer type) holding the context's KV memory. */
    public static native String[] kvBytesByDevice(long session);

    /**
     * Full layers chosen from attention overlap (DeltaKV spec 3.1): reads {@code tokens}, probing the last
     * {@code probe} one at a time; returns {@code count} layers, 0 first.
     */
    public static native int[] selectFullLayers(long model, int[] tokens, int probe, int count, int topK, int sink,
                                                int recent, int threads);

    /** {context size, tokens held, KV bytes allocated, bytes of the held tokens} over all sequences, then DeltaKV's. */
    public static native long[] kvStats(long session);

    public static final int FINISH_EOG = 0;
    public static final int FINISH_MAX_TOKENS = 1;
    public static final int FINISH_CONTEXT_FULL = 2;
    public static final int FINISH_STOPPED = 3;
    public static final int FINISH_CANCELLED = 4;

    /** Called by the native library for each line llama.cpp and ggml log (ggml_log_level). */
    static void onLog(int level, byte[] line) {
        String text = new String(line, StandardCharsets.UTF_8);
        if (text.contains(", compute capability ")) {
            CUDA_DEVICE_LINES.add(text); // the CUDA backend's devices, for the architecture check
        }
        switch (level) {
            case 4 -> LLAMA_LOG.error(text);
            case 3 -> LLAMA_LOG.warn(text);
            case 2 -> LLAMA_LOG.debug(text);
            default -> LLAMA_LOG.trace(text);
        }
    }
}
