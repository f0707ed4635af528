package io.github.deltakv.langchain4j;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.TimeoutException;

import io.github.deltakv.langchain4j.internal.AnswerListener;
import io.github.deltakv.langchain4j.internal.ChatAnswer;
import io.github.deltakv.langchain4j.internal.DevicePlacement;
import io.github.deltakv.langchain4j.internal.LlamaNative;
import io.github.deltakv.langchain4j.internal.MessageJson;
import io.github.deltakv.langchain4j.internal.NativeLoader;
import io.github.deltakv.langchain4j.internal.PrefixCache;
import io.github.deltakv.langchain4j.internal.ToolCallStream;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded GGUF model and its context: the native half of {@link DeltaKvChatModel} and
 * {@link DeltaKvStreamingChatModel}. One engine can back several chat models and serves concurrent calls at once:
 * each call is a sequence of one llama.cpp context, and one thread decodes a token of every running answer in one
 * step (continuous batching; {@code maxSequences} at a time, the rest wait in arrival order). A call starts when its
 * prompt and its longest answer fit in the context's free cells ({@code contextSize}, shared by the sequences), so a
 * call with {@code maxOutputTokens} set takes only the cells it may use. Each sequence keeps its conversation after
 * its call and the next turn reuses the longest matching token prefix, so a chat that grows turn by turn evaluates
 * only the new tokens.
 *
 * <p>Tokenizing, prompt rendering and statistics never wait for a decode. Listeners and handlers run on the calling
 * thread (a stream's on a worker thread), never on the engine's. {@link #close()} ends every waiting and running call
 * with an exception and frees the model, the context and the KV cache (native and GPU memory) once the last call has
 * returned.
 */
public final class DeltaKvEngine implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeltaKvEngine.class);
    private static final Cleaner CLEANER = Cleaner.create();
    private static final long MIN_DEFAULT_PREFIX_CACHE_BYTES = 256L << 20;
    private static final long MAX_DEFAULT_PREFIX_CACHE_BYTES = 8L << 30; // llama-server's --cache-ram default
    private static final int DEFAULT_MAX_SEQUENCES = 4;
    private static final int MAX_THREADS = 512;
    /** The engine whose listener or handler the current thread is running, if any (to refuse calls that would wait for themselves). */
    private static final ThreadLocal<DeltaKvEngine> CALLING_BACK = new ThreadLocal<>();

    private final Path modelPath;
    private final String modelName;
    private final int contextSize;
    private final Map<String, String> deltaKvSettings;
    private final Map<String, Long> kvBytesByDevice;
    private final ProgressListener progress;
    private final NativeState state;
    private final Scheduler scheduler;
    private final Cleaner.Cleanable cleanable;
    private final boolean supportsTools;
    private final Duration queueTimeout;
    /** Running calls by the cancellation flag their caller holds (streams cancel through it). */
    private final Map<BooleanSupplier, SequenceRequest> calls = new ConcurrentHashMap<>();

    private DeltaKvEngine(Builder b) {
        this.modelPath = checkModelFile(b.modelPath);
        int ctx = b.contextSize == null ? 4096 : requirePositive(b.contextSize, "contextSize");
        int threads = b.threads == null ? Runtime.getRuntime().availableProcessors() : requirePositive(b.threads, "threads");
        if (threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be at most " + MAX_THREADS + " (ggml's limit), got " + threads);
        }
        int batch = b.batchSize == null ? 512 : requirePositive(b.batchSize, "batchSize");
        int kvType = kvCacheTypeId(b.kvCacheType);
        int gpuLayers = b.gpuLayers == null ? -1 : b.gpuLayers;
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpuLayers must be -1 (all) or >= 0, got " + gpuLayers);
        }
        DevicePlacement placement = DevicePlacement.of(b.splitMode, b.mainGpu, b.tensorSplit, b.devices, b.rpcServers);
        this.progress = b.progressListener == null ? new ProgressListener() { } : b.progressListener;
        if (b.prefixCacheBytes != null && b.prefixCacheBytes < 0) {
            throw new IllegalArgumentException("prefixCacheBytes must be >= 0 (0 = off), got " + b.prefixCacheBytes);
        }
        boolean evicting = b.evictRecentTokens != null && b.evictRecentTokens > 0;
        if (b.evictRecentTokens != null && (b.evictSinkTokens < 0 || b.evictRecentTokens < 0)) {
            throw new IllegalArgumentException("kvEviction needs sinkTokens and recentTokens >= 0, got "
                    + b.evictSinkTokens + " and " + b.evictRecentTokens);
        }
        if (evicting && b.deltaKv != null) {
            throw new IllegalArgumentException("kvEviction cannot be combined with deltaKv");
        }
        int maxWaiting = b.maxQueuedCalls == null ? Integer.MAX_VALUE : b.maxQueuedCalls;
        if (maxWaiting < 0) {
            throw new IllegalArgumentException("maxQueuedCalls must be >= 0, got " + maxWaiting);
        }
        int sequences = b.maxSequences == null ? DEFAULT_MAX_SEQUENCES : requirePositive(b.maxSequences, "maxSequences");
        if (evicting) {
            sequences = 1; // the eviction baseline measures one conversation at a time
        }
        if (sequences > 256) {
            throw new IllegalArgumentException("maxSequences must be at most 256, got " + sequences);
        }
        if (b.queueTimeout != null && (b.queueTimeout.isNegative() || b.queueTimeout.isZero())) {
            throw new IllegalArgumentException("queueTimeout must be positive, got " + b.queueTimeout);
        }
        this.queueTimeout = b.queueTimeout;

        NativeLoader.load();
        NativeState s = new NativeState();
        try {
            DevicePlacement.Connected devices = placement.connectRpcServers();
            s.model = LlamaNative.loadModel(modelPath.toString(), gpuLayers, placement.splitMode().ordinal(),
                    placement.mainGpu(), placement.nativeTensorSplit(),
                    devices.devices().isEmpty() ? null : devices.devices().toArray(new String[0]),
                    devices.rpcDevices().toArray(new String[0]), fraction -> {
                progress.onModelLoad(fraction);
                return true;
            });
            s.templates = LlamaNative.newTemplates(s.model, b.chatTemplate == null ? "" : b.chatTemplate);
            DeltaKvConfig dk = b.deltaKv;
            s.session = LlamaNative.newSession(s.model, ctx, Math.min(batch, ctx), threads,
                    b.flashAttention == null ? -1 : b.flashAttention ? 1 : 0,
                    dk == null ? null : dk.compressorPath().toString(), dk == null ? null : dk.nativeSettings(),
                    dk == null ? -1f : dk.nativeTopKFraction(), dk == null ? null : dk.nativeFullLayers(), kvType,
                    sequences);
            if (evicting) {
                LlamaNative.setEviction(s.session, b.evictSinkTokens, b.evictRecentTokens);
            }
        } catch (RuntimeException e) {
            s.free();
            throw e;
        }
        this.state = s;
        Map<String, String> settings = new LinkedHashMap<>();
        for (String entry : LlamaNative.deltaKvSettings(s.session)) {
            int eq = entry.indexOf('=');
            settings.put(entry.substring(0, eq), entry.substring(eq + 1));
        }
        this.deltaKvSettings = Collections.unmodifiableMap(settings);
        Map<String, Long> byDevice = new LinkedHashMap<>();
        for (String entry : LlamaNative.kvBytesByDevice(s.session)) {
            int eq = entry.lastIndexOf('=');
            byDevice.put(entry.substring(0, eq), Long.parseLong(entry.substring(eq + 1)));
        }
        this.kvBytesByDevice = Collections.unmodifiableMap(byDevice);
        long[] kv = LlamaNative.kvStats(s.session);
        this.contextSize = (int) kv[0];
        // by default room for two full contexts of conversations, as the context's KV allocation counts them
        long cacheBytes = b.prefixCacheBytes != null ? b.prefixCacheBytes
                : Math.max(MIN_DEFAULT_PREFIX_CACHE_BYTES, Math.min(MAX_DEFAULT_PREFIX_CACHE_BYTES, 2 * kv[2]));
        String name = LlamaNative.modelMeta(s.model, "general.name");
        this.modelName = name == null || name.isBlank() ? modelPath.getFileName().toString() : name;
        this.supportsTools = LlamaNative.templateSupportsToolCalls(s.templates);
        long session = s.session;
        this.scheduler = new Scheduler(session, contextSize, Math.min(batch, contextSize), sequences, evicting,
                new PrefixCache(evicting ? 0 : cacheBytes, LlamaNative::freeSequenceState), maxWaiting, () -> kvMemoryOf(session));
        Thread thread = new Thread(scheduler, "deltakv-engine-" + modelPath.getFileName());
        thread.setDaemon(true);
        s.scheduler = scheduler;
        s.thread = thread;
        this.cleanable = CLEANER.register(this, s);
        thread.start();
        LOG.info("loaded {} ({}), context {} tokens, {} sequences, {} threads{}", modelName, modelPath, contextSize,
                sequences, threads, b.deltaKv == null ? "" : ", DeltaKV " + b.deltaKv.compressorPath().getFileName());
    }

    private static int kvCacheTypeId(String type) {
        if (type == null) {
            return 1;
        }
        return switch (type.toLowerCase(java.util.Locale.ROOT)) {
            case "f16" -> 1;
            case "bf16" -> 30;
            case "q8_0" -> 8;
            case "q5_1" -> 7;
            case "q5_0" -> 6;
            case "q4_1" -> 3;
            case "q4_0" -> 2;
            default -> throw new IllegalArgumentException("kvCacheType must be f16, bf16, q8_0, q5_1, q5_0, q4_1 or q4_0, got "
                    + type);
        };
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The model's {@code general.name}, or its file name. */
    public String modelName() {
        return modelName;
    }

    public Path modelPath() {
        return modelPath;
    }

    /** The context size in tokens: the cells the running conversations share, and the longest prompt plus answer. */
    public int contextSize() {
        return contextSize;
    }

    /**
     * Whether the chat template (the model's own, or the one given to the builder) supports tools: it renders
     * tool definitions and llama.cpp knows how to read tool calls out of the answer.
     */
    public boolean templateSupportsTools() {
        return supportsTools;
    }

    /** The tokens of {@code text} under the model's tokenizer (no BOS added, special tokens parsed as text). */
    public int[] tokenize(String text) {
        return withNatives(() -> LlamaNative.tokenize(state.model, text.getBytes(StandardCharsets.UTF_8), false, false));
    }

    /** The text of {@code tokens}. */
    public String detokenize(int[] tokens) {
        return withNatives(() -> new String(LlamaNative.detokenize(state.model, tokens, false, false), StandardCharsets.UTF_8));
    }

    /** The prompt the model's chat template makes of {@code messages}, ready for the model's answer. */
    public String renderPrompt(List<ChatMessage> messages) {
        String json = MessageJson.toJson(messages);
        return withNatives(() -> promptText(json));
    }

    /** Tokens of the prompt {@code messages} make (chat template, BOS), exactly as a call evaluates it. */
    public int countPromptTokens(List<ChatMessage> messages) {
        return promptTokens(messages).length;
    }

    /**
     * The prompt {@code messages} make, as tokens, exactly as a call evaluates it: the chat template's markup may
     * give special tokens, the messages' texts never do (text in a document that looks like a turn marker stays text).
     */
    public int[] promptTokens(List<ChatMessage> messages) {
        String json = MessageJson.toJson(messages);
        return withNatives(() -> promptTokens(promptText(json), json));
    }

    private String promptText(String messagesJson) {
        return LlamaNative.applyTemplate(state.templates, messagesJson, true);
    }

    /** Tokens of a rendered prompt: BOS added as the vocabulary wants, the template's special tokens parsed, the
     *  texts of the messages in {@code messagesJson} kept as text. */
    private int[] promptTokens(String prompt, String messagesJson) {
        return LlamaNative.tokenizePrompt(state.model, prompt.getBytes(StandardCharsets.UTF_8),
                MessageJson.contents(messagesJson));
    }

    /**
     * The DeltaKV compressor's settings as loaded (overrides applied), by name: {@code model_name} and
     * {@code model_layout} (the model the side file was made for, where it records one), {@code model_matches}
     * ({@code no} when this model's tensor layout differs: a warning is logged at load), {@code full_layers},
     * {@code latent_dim}, {@code latent_bits}, {@code top_k}, {@code n_sink}, {@code n_recent}, ... Empty without
     * DeltaKV memory.
     */
    public Map<String, String> deltaKvSettings() {
        return deltaKvSettings;
    }

    /**
     * The bytes the context allocated for its KV memory on each device, by the name of the device's buffers ("CPU",
     * "CUDA0", "RPC0[10.0.0.2:50052]"): with the layers split over devices, each holds its layers' share (DeltaKV:
     * exact rows, compressed history and tables). Set when the engine is built; the pools do not grow.
     */
    public Map<String, Long> kvBytesByDevice() {
        return kvBytesByDevice;
    }

    /** KV-cache memory as of the last call's end (never waits for a decode). */
    public KvMemoryStats kvMemory() {
        ensureOpen();
        return scheduler.memory();
    }

    /** What the engine serves now and has served: calls running and waiting, decode steps, the largest step. */
    public ServingStats servingStats() {
        Scheduler.Counts c = scheduler.counts();
        return new ServingStats(c.running(), c.waiting(), c.started(), c.decodeSteps(), c.largestStep(),
                c.tokensGenerated(), c.decodeNanos() / 1e9, c.promptTokens(), c.promptNanos() / 1e9, c.firstTokens(),
                c.firstTokenNanos() / 1e9);
    }

    /** By the engine's thread: the memory the context holds now. */
    private static KvMemoryStats kvMemoryOf(long session) {
        long[] s = LlamaNative.kvStats(session);
        return new KvMemoryStats((int) s[0], (int) s[1], s[2], s[3], s.length >= 16 ? DeltaKvStats.fromNative(s, 4) : null);
    }

    /**
     * Renders, tokenizes and answers messages (OpenAI-style JSON): the shared work of both chat models. Runs on the
     * caller's thread up to the queue, then waits for the engine's events and hands the answer's text to the listener
     * on this thread.
     *
     * @param cancelled the caller's flag: {@link #cancel} with it stops the call
     */
    Completion complete(String messagesJson, ToolRequest tools, SamplingSettings sampling, AnswerListener listener,
                        BooleanSupplier cancelled) {
        if (CALLING_BACK.get() == this) {
            throw new IllegalStateException("a call to " + modelName + " from inside one of its own listeners or "
                    + "handlers would wait for the call that runs them: make it after that call returns");
        }
        acquireNatives();
        long call = 0;
        try {
            call = tools == null ? 0 : LlamaNative.newChatCall(state.templates, messagesJson, tools.toolsJson(),
                    tools.toolChoice(), tools.jsonSchema());
            String[] prompt = call == 0 ? new String[] {promptText(messagesJson)} : LlamaNative.chatCallPrompt(call);
            int[] tokens = promptTokens(prompt[0], messagesJson);
            if (tokens.length >= contextSize) {
                throw new InvalidRequestException("the prompt has " + tokens.length + " tokens but the context holds "
                        + contextSize + " (prompt and answer together): shorten the messages or build the model "
                        + "with a larger contextSize");
            }
            List<String> stops = new ArrayList<>(sampling.stopSequences() == null ? List.of() : sampling.stopSequences());
            stops.addAll(Arrays.asList(prompt).subList(1, prompt.length));
            SequenceRequest request = new SequenceRequest(tokens, sampling, stops, call, contextSize);
            if (call == 0) {
                return serve(request, listener::onText, cancelled);
            }
            long chatCall = call;
            ToolCallStream answer = new ToolCallStream((text, partial) -> ChatAnswer.fromJson(
                    LlamaNative.parseChatAnswer(chatCall, text.getBytes(StandardCharsets.UTF_8), partial)),
                    listener, listener != AnswerListener.IGNORE);
            Completion raw = serve(request, answer, cancelled);
            return raw.cancelled() ? raw : raw.withAnswer(readAnswer(answer, raw));
        } finally {
            if (call != 0) {
                LlamaNative.freeChatCall(call);
            }
            releaseNatives();
        }
    }

    /**
     * Queues a call and runs its events on this thread until it ends. An interrupt, the queue timeout or an exception
     * from the listener cancels the call; this thread still waits for the engine to let go of it (one step at most).
     */
    private Completion serve(SequenceRequest request, Consumer<String> onText, BooleanSupplier cancelled) {
        calls.put(cancelled, request);
        if (cancelled.getAsBoolean()) {
            request.cancel(); // cancelled before it was queued: it never starts
        }
        try {
            scheduler.submit(request);
        } catch (RuntimeException e) {
            calls.remove(cancelled, request);
            throw e;
        }
        try {
            long deadline = queueTimeout == null ? 0 : System.nanoTime() + queueTimeout.toNanos();
            boolean admitted = false;
            while (true) {
                SequenceRequest.Event event;
                try {
                    event = request.next(admitted || queueTimeout == null ? -1 : Math.max(0, deadline - System.nanoTime()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw abandon(request, new DeltaKvException("interrupted while " + (admitted ? "generating" : "waiting"), e));
                }
                if (event == null) {
                    throw abandon(request, new TimeoutException("waited " + queueTimeout.toMillis() + " ms for "
                            + modelName + " (queueTimeout): every sequence was busy or the context full"));
                }
                if (event instanceof SequenceRequest.Admitted) {
                    admitted = true;
                } else if (event instanceof SequenceRequest.Text t) {
                    if (!cancelled.getAsBoolean()) {
                        callBack(request, () -> onText.accept(t.text()));
                    }
                } else if (event instanceof SequenceRequest.Progress p) {
                    callBack(request, () -> progress.onPromptProgress(p.done(), p.total()));
                } else if (event instanceof SequenceRequest.Done d) {
                    return d.completion();
                } else if (event instanceof SequenceRequest.Failed f) {
                    throw f.error();
                }
            }
        } finally {
            calls.remove(cancelled, request);
        }
    }

    /** Runs the caller's code for a call; if it throws, the call is cancelled and the exception goes on. */
    private void callBack(SequenceRequest request, Runnable code) {
        CALLING_BACK.set(this);
        try {
            code.run();
        } catch (RuntimeException e) {
            throw abandon(request, e);
        } catch (Error e) {
            throw abandon(request, e);
        } finally {
            CALLING_BACK.remove();
        }
    }

    /** Cancels a call whose caller stops waiting, and waits until the engine no longer uses it; returns e to throw. */
    private <T extends Throwable> T abandon(SequenceRequest request, T e) {
        request.cancel();
        scheduler.wake();
        boolean interrupted = Thread.interrupted(); // kept for the caller, not for this wait
        try {
            while (true) {
                SequenceRequest.Event event;
                try {
                    event = request.next(-1);
                } catch (InterruptedException again) {
                    interrupted = true;
                    continue;
                }
                if (event instanceof SequenceRequest.Done || event instanceof SequenceRequest.Failed) {
                    return e;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The content and tool calls of a tool-calling answer. A tool call cut short (its arguments are not complete
     * JSON, e.g. at maxOutputTokens) is dropped; an answer the template's parser cannot read is returned as text.
     */
    private ChatAnswer readAnswer(ToolCallStream stream, Completion raw) {
        ChatAnswer answer;
        try {
            answer = stream.finish();
        } catch (RuntimeException e) {
            LOG.warn("the answer does not follow the chat template's tool-call format; returned as text: {}",
                    e.getMessage());
            return new ChatAnswer(stream.text(), "", List.of());
        }
        List<ChatAnswer.ToolCall> complete = new ArrayList<>();
        for (ChatAnswer.ToolCall c : answer.toolCalls()) {
            if (!c.name().isEmpty() && ChatAnswer.isCompleteJson(c.arguments())) {
                complete.add(c);
            } else {
                LOG.warn("dropped the tool call '{}' cut short ({} tokens generated, finish {}): {}", c.name(),
                        raw.outputTokens(), raw.finishReason(), c.arguments());
            }
        }
        return new ChatAnswer(answer.content(), answer.reasoning(), List.copyOf(complete));
    }

    /** Prefix cache statistics. */
    public PrefixCacheStats prefixCacheStats() {
        ensureOpen();
        return scheduler.prefixCacheStats();
    }

    /** Stops the call whose cancellation flag is {@code call}, if it still runs or waits (any thread). */
    void cancel(BooleanSupplier call) {
        SequenceRequest request = calls.get(call);
        if (request != null) {
            request.cancel();
            scheduler.wake();
        }
    }

    private <T> T withNatives(Supplier<T> action) {
        acquireNatives();
        try {
            return action.get();
        } finally {
            releaseNatives();
        }
    }

    private void acquireNatives() {
        if (!state.acquire()) {
            throw new IllegalStateException("this DeltaKV model is closed");
        }
    }

    private void releaseNatives() {
        state.release();
    }

    private void ensureOpen() {
        if (state.closed()) {
            throw new IllegalStateException("this DeltaKV model is closed");
        }
    }

    /**
     * Ends every waiting and running call (each fails with a {@link DeltaKvException}), stops the engine's thread and
     * frees the model, context and KV cache once the last call has returned (at once when none runs). May be called
     * from any thread, a listener's or a handler's too.
     */
    @Override
    public void close() {
        if (!state.closed()) {
            cleanable.clean();
            LOG.info("closed {}", modelName);
        }
    }

    public boolean isClosed() {
        return state.closed();
    }

    private static Path checkModelFile(Path path) {
        if (path == null) {
            throw new IllegalArgumentException("modelPath is required");
        }
        if (!Files.isRegularFile(path)) {
            throw new DeltaKvException("model file not found: " + path.toAbsolutePath());
        }
        byte[] magic = new byte[4];
        try (InputStream in = Files.newInputStream(path)) {
            if (in.readNBytes(magic, 0, 4) < 4 || !"GGUF".equals(new String(magic, StandardCharsets.US_ASCII))) {
                throw new DeltaKvException("not a GGUF model file: " + path.toAbsolutePath());
            }
        } catch (IOException e) {
            throw new DeltaKvException("cannot read model file " + path.toAbsolutePath() + ": " + e.getMessage(), e);
        }
        return path;
    }

    private static int requirePositive(int value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
        return value;
    }

    /**
     * Native handles and the engine's thread. Closing (close(), or the engine collected unclosed) stops the thread;
     * the handles are freed when the last user (the engine itself, and each call in flight) lets go.
     */
    private static final class NativeState implements Runnable {
        long model;
        long templates;
        long session;
        Scheduler scheduler;
        Thread thread;
        /** 1 for the open engine, plus one per call in flight; 0: freed. */
        private final AtomicInteger users = new AtomicInteger(1);
        private volatile boolean closed;

        boolean acquire() {
            while (true) {
                int u = users.get();
                if (u == 0 || closed) {
                    return false;
                }
                if (users.compareAndSet(u, u + 1)) {
                    return true;
                }
            }
        }

        void release() {
            if (users.decrementAndGet() == 0) {
                free();
            }
        }

        boolean closed() {
            return closed;
        }

        /** Closing: the engine's thread fails every call and ends; the handles go with the last user. */
        @Override
        public void run() {
            closed = true;
            if (scheduler != null) {
                scheduler.close();
                LlamaNative.cancel(session); // a decode under way stops at once
                if (thread != Thread.currentThread()) {
                    boolean interrupted = false;
                    while (thread.isAlive()) {
                        try {
                            thread.join();
                        } catch (InterruptedException e) {
                            interrupted = true;
                        }
                    }
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            release();
        }

        void free() {
            if (scheduler != null) {
                scheduler.freePrefixCache();
            }
            if (session != 0) {
                LlamaNative.freeSession(session);
                session = 0;
            }
            if (templates != 0) {
                LlamaNative.freeTemplates(templates);
                templates = 0;
            }
            if (model != 0) {
                LlamaNative.freeModel(model);
                model = 0;
            }
        }
    }

    /** Progress of long work: model loading and prompt evaluation. Called on the working thread. */
    public interface ProgressListener {

        /** Model loading, from 0 to 1. */
        default void onModelLoad(float fraction) {
        }

        /** Prompt evaluation: tokens done out of tokens to evaluate (only for prompts longer than a batch). */
        default void onPromptProgress(int done, int total) {
        }
    }

    public static final class Builder {
        private Path modelPath;
        private Integer contextSize;
        private Integer gpuLayers;
        private Integer threads;
        private Integer batchSize;
        private Boolean flashAttention;
        private String chatTemplate;
        private ProgressListener progressListener;
        private Long prefixCacheBytes;
        private Integer maxQueuedCalls;
        private Integer maxSequences;
        private Duration queueTimeout;
        private DeltaKvConfig deltaKv;
        private String kvCacheType;
        private Integer evictSinkTokens;
        private Integer evictRecentTokens;
        private SplitMode splitMode;
        private Integer mainGpu;
        private List<Float> tensorSplit;
        private List<String> devices;
        private List<String> rpcServers;

        public Builder() {
        }

        /** The GGUF model file (required). */
        public Builder modelPath(Path modelPath) {
            this.modelPath = modelPath;
            return this;
        }

        /** Context size in tokens (default 4096). */
        public Builder contextSize(Integer contextSize) {
            this.contextSize = contextSize;
            return this;
        }

        /** Layers to offload to the GPU: -1 all (default), 0 none. Ignored without a GPU. */
        public Builder gpuLayers(Integer gpuLayers) {
            this.gpuLayers = gpuLayers;
            return this;
        }

        /**
         * How the layers are spread over several devices (default {@link SplitMode#LAYER}, as llama.cpp): each DeltaKV
         * layer's exact rows, compressed history and compressor live on the device of that layer.
         */
        public Builder splitMode(SplitMode splitMode) {
            this.splitMode = splitMode;
            return this;
        }

        /** The device, by its index among the devices used, for {@link SplitMode#NONE} and {@link SplitMode#ROW} (default 0). */
        public Builder mainGpu(Integer mainGpu) {
            this.mainGpu = mainGpu;
            return this;
        }

        /** The share of the layers each device gets, in device order, e.g. [3, 1] (default: by free memory). */
        public Builder tensorSplit(List<Float> tensorSplit) {
            this.tensorSplit = tensorSplit;
            return this;
        }

        /**
         * The devices to use, in order: by the names llama.cpp gives them ("CUDA0", "CUDA1"), or an RPC server's
         * endpoint ("10.0.0.2:50052", one of {@link #rpcServers}) for its devices. Default: the devices of the
         * {@link #rpcServers}, then every GPU of the machine, as llama.cpp. An unknown name is refused with the list of
         * devices.
         */
        public Builder devices(List<String> devices) {
            this.devices = devices;
            return this;
        }

        /**
         * ggml-rpc-server endpoints ("host:port") whose devices take layers of the model, as llama.cpp's {@code --rpc}.
         * The servers must come from this project's natives build (their protocol carries DeltaKV's operations); a
         * server that cannot be reached is refused when the engine is built. RPC has no authentication: use it on
         * trusted networks only.
         */
        public Builder rpcServers(List<String> rpcServers) {
            this.rpcServers = rpcServers;
            return this;
        }

        /** CPU threads (default: all available processors). */
        public Builder threads(Integer threads) {
            this.threads = threads;
            return this;
        }

        /** Tokens per prompt-evaluation batch (default 512). */
        public Builder batchSize(Integer batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Flash attention: null auto (default), true on, false off. */
        public Builder flashAttention(Boolean flashAttention) {
            this.flashAttention = flashAttention;
            return this;
        }

        /** A Jinja chat template to use instead of the model's own. */
        public Builder chatTemplate(String chatTemplate) {
            this.chatTemplate = chatTemplate;
            return this;
        }

        /**
         * Host memory (native, outside the Java heap) for conversations set aside, so that switching back to one
         * does not evaluate its history again; 0 turns it off. Default: twice the KV memory the context allocates,
         * at least 256 MiB and at most 8 GiB.
         */
        public Builder prefixCacheBytes(Long prefixCacheBytes) {
            this.prefixCacheBytes = prefixCacheBytes;
            return this;
        }

        /**
         * Calls that may wait while {@link #maxSequences} run (default: no limit). Waiting calls start in arrival
         * order; beyond this many waiting, a call fails at once with RateLimitException.
         */
        public Builder maxQueuedCalls(Integer maxQueuedCalls) {
            this.maxQueuedCalls = maxQueuedCalls;
            return this;
        }

        /**
         * Calls served at once, each a sequence of the one context (default 4): their answers are decoded together,
         * one token of each a step. They share the context's {@link #contextSize} cells; a call starts when its prompt
         * and its longest answer ({@code maxOutputTokens}, else the rest of the context) fit in the free cells.
         */
        public Builder maxSequences(Integer maxSequences) {
            this.maxSequences = maxSequences;
            return this;
        }

        /**
         * How long a call may wait for a sequence and cells (default: no limit); beyond it the call fails with
         * {@link TimeoutException} and was never evaluated.
         */
        public Builder queueTimeout(Duration queueTimeout) {
            this.queueTimeout = queueTimeout;
            return this;
        }

        /**
         * Element type of llama.cpp's KV cache (and of DeltaKV's full layers): {@code f16} (default), {@code bf16},
         * {@code q8_0}, {@code q5_1}, {@code q5_0}, {@code q4_1}, {@code q4_0} (quantized V needs flash attention).
         */
        public Builder kvCacheType(String kvCacheType) {
            this.kvCacheType = kvCacheType;
            return this;
        }

        /** DeltaKV compressed KV memory (default: none, the stock F16 cache). */
        public Builder deltaKv(DeltaKvConfig deltaKv) {
            this.deltaKv = deltaKv;
            return this;
        }

        /**
         * Sink + recent-window eviction on the stock cache (StreamingLLM's rule; default off), the baseline
         * DeltaKV is measured against: after each prompt batch and each generated token the cache keeps only the
         * first {@code sinkTokens} and the last {@code recentTokens} positions, so it never holds more than their
         * sum plus one batch. The middle of a long prompt is forgotten; no prefix reuse between calls. Not with
         * {@link #deltaKv}; serves one call at a time. {@code recentTokens} 0 turns it off.
         */
        public Builder kvEviction(int sinkTokens, int recentTokens) {
            this.evictSinkTokens = sinkTokens;
            this.evictRecentTokens = recentTokens;
            return this;
        }

        public Builder progressListener(ProgressListener progressListener) {
            this.progressListener = progressListener;
            return this;
        }

        public DeltaKvEngine build() {
            return new DeltaKvEngine(this);
        }
    }
}
