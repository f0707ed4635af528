package io.github.deltakv.langchain4j;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.RateLimitException;

import io.github.deltakv.langchain4j.internal.AnswerListener;
import io.github.deltakv.langchain4j.internal.ChatAnswer;
import io.github.deltakv.langchain4j.internal.GenerationListener;
import io.github.deltakv.langchain4j.internal.LlamaNative;
import io.github.deltakv.langchain4j.internal.MessageJson;
import io.github.deltakv.langchain4j.internal.NativeLoader;
import io.github.deltakv.langchain4j.internal.PrefixCache;
import io.github.deltakv.langchain4j.internal.StopSequences;
import io.github.deltakv.langchain4j.internal.ToolCallStream;
import io.github.deltakv.langchain4j.internal.Utf8Accumulator;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded GGUF model and its context: the native half of {@link DeltaKvChatModel} and
 * {@link DeltaKvStreamingChatModel}. One engine can back several chat models; calls are served one at
 * a time. It keeps the KV cache of the last conversation and reuses its longest matching token prefix,
 * so a chat that grows turn by turn evaluates only the new tokens.
 *
 * <p>{@link #close()} frees the model, the context and the KV cache (native and GPU memory).
 */
public final class DeltaKvEngine implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeltaKvEngine.class);
    private static final Cleaner CLEANER = Cleaner.create();
    /** Conversations shorter than this are not worth setting aside. */
    private static final int MIN_TOKENS_TO_SET_ASIDE = 64;
    private static final long DEFAULT_PREFIX_CACHE_BYTES = 256L << 20;

    private final Path modelPath;
    private final String modelName;
    private final int contextSize;
    private final ProgressListener progress;
    private final NativeState state;
    private final Cleaner.Cleanable cleanable;
    private final ReentrantLock lock = new ReentrantLock(true);
    private final boolean supportsTools;
    private final PrefixCache prefixCache;
    private final int maxQueuedCalls;
    /** Window eviction drops the middle of the cache: nothing held can be reused by the next call. */
    private final boolean evicting;
    /** Calls running or waiting for their turn. */
    private final AtomicInteger callsInFlight = new AtomicInteger();

    private volatile boolean closed;
    /** The cancellation flag of the call running now (to cancel only that call). */
    private volatile BooleanSupplier currentCall;
    /** Tokens whose keys and values the context holds now, in order. */
    private int[] cachedTokens = new int[0];

    private DeltaKvEngine(Builder b) {
        this.modelPath = checkModelFile(b.modelPath);
        int ctx = b.contextSize == null ? 4096 : requirePositive(b.contextSize, "contextSize");
        int threads = b.threads == null ? Runtime.getRuntime().availableProcessors() : requirePositive(b.threads, "threads");
        int batch = b.batchSize == null ? 512 : requirePositive(b.batchSize, "batchSize");
        int kvType = kvCacheTypeId(b.kvCacheType);
        int gpuLayers = b.gpuLayers == null ? -1 : b.gpuLayers;
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpuLayers must be -1 (all) or >= 0, got " + gpuLayers);
        }
        this.progress = b.progressListener == null ? new ProgressListener() { } : b.progressListener;
        long cacheBytes = b.prefixCacheBytes == null ? DEFAULT_PREFIX_CACHE_BYTES : b.prefixCacheBytes;
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("prefixCacheBytes must be >= 0 (0 = off), got " + cacheBytes);
        }
        this.evicting = b.evictRecentTokens != null && b.evictRecentTokens > 0;
        if (b.evictRecentTokens != null && (b.evictSinkTokens < 0 || b.evictRecentTokens < 0)) {
            throw new IllegalArgumentException("kvEviction needs sinkTokens and recentTokens >= 0, got "
                    + b.evictSinkTokens + " and " + b.evictRecentTokens);
        }
        if (evicting && b.deltaKv != null) {
            throw new IllegalArgumentException("kvEviction cannot be combined with deltaKv");
        }
        this.prefixCache = new PrefixCache(evicting ? 0 : cacheBytes);
        this.maxQueuedCalls = b.maxQueuedCalls == null ? Integer.MAX_VALUE : b.maxQueuedCalls;
        if (maxQueuedCalls < 0) {
            throw new IllegalArgumentException("maxQueuedCalls must be >= 0, got " + maxQueuedCalls);
        }

        NativeLoader.load();
        NativeState s = new NativeState();
        try {
            s.model = LlamaNative.loadModel(modelPath.toString(), gpuLayers, fraction -> {
                progress.onModelLoad(fraction);
                return true;
            });
            s.templates = LlamaNative.newTemplates(s.model, b.chatTemplate == null ? "" : b.chatTemplate);
            DeltaKvConfig dk = b.deltaKv;
            s.session = LlamaNative.newSession(s.model, ctx, Math.min(batch, ctx), threads,
                    b.flashAttention == null ? -1 : b.flashAttention ? 1 : 0,
                    dk == null ? null : dk.compressorPath().toString(), dk == null ? null : dk.nativeSettings(),
                    dk == null ? null : dk.nativeFullLayers(), kvType);
            if (evicting) {
                LlamaNative.setEviction(s.session, b.evictSinkTokens, b.evictRecentTokens);
            }
        } catch (RuntimeException e) {
            s.run();
            throw e;
        }
        this.state = s;
        this.cleanable = CLEANER.register(this, s);
        this.contextSize = (int) LlamaNative.kvStats(s.session)[0];
        String name = LlamaNative.modelMeta(s.model, "general.name");
        this.modelName = name == null || name.isBlank() ? modelPath.getFileName().toString() : name;
        this.supportsTools = LlamaNative.templateSupportsToolCalls(s.templates);
        LOG.info("loaded {} ({}), context {} tokens, {} threads{}", modelName, modelPath, contextSize, threads,
                b.deltaKv == null ? "" : ", DeltaKV " + b.deltaKv.compressorPath().getFileName());
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

    /** The context size in tokens: the longest prompt plus answer one call can have. */
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
        return withLock(() -> LlamaNative.tokenize(state.model, text.getBytes(StandardCharsets.UTF_8), false, false));
    }

    /** The text of {@code tokens}. */
    public String detokenize(int[] tokens) {
        return withLock(() -> new String(LlamaNative.detokenize(state.model, tokens, false, false), StandardCharsets.UTF_8));
    }

    /** The prompt the model's chat template makes of {@code messages}, ready for the model's answer. */
    public String renderPrompt(List<ChatMessage> messages) {
        String json = MessageJson.toJson(messages);
        return withLock(() -> promptText(json));
    }

    /** Tokens of the prompt {@code messages} make (chat template, BOS), exactly as a call evaluates it. */
    public int countPromptTokens(List<ChatMessage> messages) {
        String json = MessageJson.toJson(messages);
        return withLock(() -> promptTokens(promptText(json)).length);
    }

    private String promptText(String messagesJson) {
        return LlamaNative.applyTemplate(state.templates, messagesJson, true);
    }

    /** Tokens of a rendered prompt: BOS added as the vocabulary wants, the template's special tokens parsed. */
    private int[] promptTokens(String prompt) {
        return LlamaNative.tokenize(state.model, prompt.getBytes(StandardCharsets.UTF_8), true, true);
    }

    /** KV-cache memory now. */
    public KvMemoryStats kvMemory() {
        return withLock(this::kvMemoryLocked);
    }

    private KvMemoryStats kvMemoryLocked() {
        long[] s = LlamaNative.kvStats(state.session);
        return new KvMemoryStats((int) s[0], (int) s[1], s[2], s[3], s.length >= 15 ? DeltaKvStats.fromNative(s, 4) : null);
    }

    /**
     * Renders, tokenizes and answers messages (OpenAI-style JSON): the shared work of both chat models.
     *
     * @param onText    receives text as it becomes final (never a piece of a stop string)
     * @param cancelled polled between tokens; true stops generation
     */
    Completion complete(String messagesJson, ToolRequest tools, SamplingSettings sampling, AnswerListener listener,
                        BooleanSupplier cancelled) {
        if (callsInFlight.incrementAndGet() > maxQueuedCalls + 1L) {
            callsInFlight.decrementAndGet();
            throw new RateLimitException("this model is busy: one call runs and " + maxQueuedCalls
                    + " wait (maxQueuedCalls); try again later");
        }
        try {
            return completeInTurn(messagesJson, tools, sampling, listener, cancelled);
        } finally {
            callsInFlight.decrementAndGet();
        }
    }

    private Completion completeInTurn(String messagesJson, ToolRequest tools, SamplingSettings sampling,
                                      AnswerListener listener, BooleanSupplier cancelled) {
        return withLock(() -> {
            long call = tools == null ? 0 : LlamaNative.newChatCall(state.templates, messagesJson, tools.toolsJson(),
                    tools.toolChoice(), tools.jsonSchema());
            try {
                String[] prompt = call == 0 ? new String[] {promptText(messagesJson)} : LlamaNative.chatCallPrompt(call);
                int[] tokens = promptTokens(prompt[0]);
                if (tokens.length >= contextSize) {
                    throw new InvalidRequestException("the prompt has " + tokens.length + " tokens but the context holds "
                            + contextSize + " (prompt and answer together): shorten the messages or build the model "
                            + "with a larger contextSize");
                }
                List<String> stops = new ArrayList<>(sampling.stopSequences() == null ? List.of() : sampling.stopSequences());
                stops.addAll(Arrays.asList(prompt).subList(1, prompt.length));
                currentCall = cancelled;
                try {
                    if (call == 0) {
                        return run(tokens, sampling, stops, 0, listener::onText, cancelled);
                    }
                    long chatCall = call;
                    ToolCallStream answer = new ToolCallStream((text, partial) -> ChatAnswer.fromJson(
                            LlamaNative.parseChatAnswer(chatCall, text.getBytes(StandardCharsets.UTF_8), partial)),
                            listener, listener != AnswerListener.IGNORE);
                    Completion raw = run(tokens, sampling, stops, call, answer, cancelled);
                    return raw.cancelled() ? raw : raw.withAnswer(readAnswer(answer, raw));
                } finally {
                    currentCall = null;
                }
            } finally {
                if (call != 0) {
                    LlamaNative.freeChatCall(call);
                }
            }
        });
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

    private Completion run(int[] tokens, SamplingSettings sampling, List<String> stops, long chatCall,
                           Consumer<String> onText, BooleanSupplier cancelled) {
        int keep = switchConversation(tokens);
        TextCollector collector = new TextCollector(new StopSequences(stops), onText, cancelled, progress);
        int[] r;
        try {
            r = LlamaNative.generate(state.session, tokens, keep, sampling.floats(), sampling.ints(),
                    sampling.seed(), chatCall == 0 ? sampling.grammar() : null, chatCall, collector);
        } catch (RuntimeException e) {
            cachedTokens = new int[0]; // the cache's content is unknown now: start over next time
            throw e;
        }
        collector.finish();
        int[] generated = collector.tokens();
        int[] all = Arrays.copyOf(tokens, tokens.length + generated.length);
        System.arraycopy(generated, 0, all, tokens.length, generated.length);
        cachedTokens = evicting ? new int[0] : Arrays.copyOf(all, Math.min(r[3], all.length));
        return new Completion(collector.text(), tokens.length, keep, r[1], r[2], r[0], kvMemoryLocked(), List.of());
    }

    /**
     * Before a call: when the prompt shares more with a conversation set aside than with the one in
     * the context, restore that one; when the context's conversation is about to be mostly replaced,
     * set it aside first. Returns the prompt tokens the context then already holds.
     */
    private int switchConversation(int[] tokens) {
        int keep = PrefixCache.commonPrefix(cachedTokens, tokens);
        if (!prefixCache.enabled()) {
            return keep;
        }
        PrefixCache.Entry best = prefixCache.takeBest(tokens, keep);
        boolean replacing = best != null || keep < cachedTokens.length / 2;
        if (replacing && cachedTokens.length >= MIN_TOKENS_TO_SET_ASIDE) {
            prefixCache.put(cachedTokens, LlamaNative.saveSequence(state.session));
        }
        if (best == null) {
            return keep;
        }
        cachedTokens = new int[0]; // unknown until the restore succeeds
        LlamaNative.restoreSequence(state.session, best.state());
        cachedTokens = best.tokens();
        return PrefixCache.commonPrefix(cachedTokens, tokens);
    }

    /** Prefix cache statistics. */
    public PrefixCacheStats prefixCacheStats() {
        return withLock(prefixCache::stats);
    }

    /** Collects the answer of one call: tokens to text, stop strings, streaming of final text. */
    private static final class TextCollector implements GenerationListener {
        private final StopSequences stops;
        private final Consumer<String> onText;
        private final BooleanSupplier cancelled;
        private final ProgressListener progress;
        private final Utf8Accumulator utf8 = new Utf8Accumulator();
        private final StringBuilder text = new StringBuilder();
        private int[] tokens = new int[64];
        private int tokenCount;
        private int emitted;
        private boolean stoppedByString;

        TextCollector(StopSequences stops, Consumer<String> onText, BooleanSupplier cancelled, ProgressListener progress) {
            this.stops = stops;
            this.onText = onText;
            this.cancelled = cancelled;
            this.progress = progress;
        }

        @Override
        public boolean onToken(int token, byte[] piece) {
            if (tokenCount == tokens.length) {
                tokens = Arrays.copyOf(tokens, tokens.length * 2);
            }
            tokens[tokenCount++] = token;
            text.append(utf8.append(piece));
            int stop = stops.firstMatch(text);
            if (stop >= 0) {
                text.setLength(stop);
                stoppedByString = true;
                emit(text.length());
                return false;
            }
            emit(stops.safeLength(text));
            return !cancelled.getAsBoolean();
        }

        @Override
        public void onPrefill(int done, int total) {
            progress.onPromptProgress(done, total);
        }

        /** After generation: the held-back tail is final now (unless the call was cancelled). */
        void finish() {
            if (!stoppedByString && !cancelled.getAsBoolean()) {
                text.append(utf8.flush());
                emit(text.length());
            }
        }

        private void emit(int upTo) {
            if (upTo > emitted) {
                onText.accept(text.substring(emitted, upTo));
                emitted = upTo;
            }
        }

        String text() {
            return text.toString();
        }

        int[] tokens() {
            return Arrays.copyOf(tokens, tokenCount);
        }
    }

    /** Stops the call whose cancellation flag is {@code call}, if it is the one running now. */
    void cancel(BooleanSupplier call) {
        if (!closed && currentCall == call) {
            LlamaNative.cancel(state.session);
        }
    }

    private <T> T withLock(Supplier<T> action) {
        ensureOpen();
        lock.lock();
        try {
            ensureOpen();
            return action.get();
        } finally {
            lock.unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this DeltaKV model is closed");
        }
    }

    /** Frees the model, context and KV cache; waits for a call in progress to stop first. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        LlamaNative.cancel(state.session);
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                cleanable.clean();
                LOG.info("closed {}", modelName);
            }
        } finally {
            lock.unlock();
        }
    }

    public boolean isClosed() {
        return closed;
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

    /** Native handles, freed by close() or, if the engine is never closed, when it is collected. */
    private static final class NativeState implements Runnable {
        long model;
        long templates;
        long session;

        @Override
        public void run() {
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
        private DeltaKvConfig deltaKv;
        private String kvCacheType;
        private Integer evictSinkTokens;
        private Integer evictRecentTokens;

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
         * Host memory for conversations set aside, so that switching back to one does not evaluate its
         * history again (default 256 MiB; 0 turns it off).
         */
        public Builder prefixCacheBytes(Long prefixCacheBytes) {
            this.prefixCacheBytes = prefixCacheBytes;
            return this;
        }

        /**
         * Calls that may wait while one runs (default: no limit). Calls are served one at a time in
         * arrival order; beyond this many waiting, a call fails at once with RateLimitException.
         */
        public Builder maxQueuedCalls(Integer maxQueuedCalls) {
            this.maxQueuedCalls = maxQueuedCalls;
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
         * {@link #deltaKv}. {@code recentTokens} 0 turns it off.
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
