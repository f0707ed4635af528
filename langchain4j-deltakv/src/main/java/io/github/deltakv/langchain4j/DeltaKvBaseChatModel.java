package io.github.deltakv.langchain4j;

import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.output.TokenUsage;

import io.github.deltakv.langchain4j.internal.AnswerListener;
import io.github.deltakv.langchain4j.internal.JsonGrammars;
import io.github.deltakv.langchain4j.internal.MessageJson;
import io.github.deltakv.langchain4j.internal.ToolJson;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@link DeltaKvChatModel} and {@link DeltaKvStreamingChatModel} share: the engine, default
 * request parameters, listeners, request checks and the mapping of a completion to a
 * {@link ChatResponse}.
 */
public abstract class DeltaKvBaseChatModel implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeltaKvBaseChatModel.class);

    // llama.cpp's sampling defaults
    static final double DEFAULT_TEMPERATURE = 0.8;
    static final int DEFAULT_TOP_K = 40;
    static final double DEFAULT_TOP_P = 0.95;
    static final double DEFAULT_MIN_P = 0.05;
    static final double DEFAULT_REPEAT_PENALTY = 1.0;
    static final int DEFAULT_REPEAT_LAST_N = 64;

    protected final DeltaKvEngine engine;
    private final boolean ownsEngine;
    private final DeltaKvChatRequestParameters defaultParameters;
    private final List<ChatModelListener> listeners;
    private final boolean logRequests;
    private final boolean logResponses;

    protected DeltaKvBaseChatModel(Builder<?, ?> b) {
        this.ownsEngine = b.engine == null;
        this.engine = b.engine != null ? b.engine : b.engineBuilder.build();
        DeltaKvChatRequestParameters defaults = DeltaKvChatRequestParameters.builder()
                .modelName(engine.modelName())
                .temperature(DEFAULT_TEMPERATURE)
                .topK(DEFAULT_TOP_K)
                .topP(DEFAULT_TOP_P)
                .minP(DEFAULT_MIN_P)
                .repeatPenalty(DEFAULT_REPEAT_PENALTY)
                .repeatLastN(DEFAULT_REPEAT_LAST_N)
                .frequencyPenalty(0.0)
                .presencePenalty(0.0)
                .build();
        DeltaKvChatRequestParameters fromSetters = DeltaKvChatRequestParameters.builder()
                .temperature(b.temperature)
                .topK(b.topK)
                .topP(b.topP)
                .minP(b.minP)
                .seed(b.seed)
                .repeatPenalty(b.repeatPenalty)
                .repeatLastN(b.repeatLastN)
                .maxOutputTokens(b.maxTokens)
                .stopSequences(b.stopSequences)
                .build();
        // unset (null) values never override: llama.cpp defaults < defaultRequestParameters < setters
        DeltaKvChatRequestParameters merged = b.defaultRequestParameters == null ? defaults
                : defaults.overrideWith(b.defaultRequestParameters);
        this.defaultParameters = merged.overrideWith(fromSetters);
        try {
            validate(this.defaultParameters);
        } catch (RuntimeException e) {
            if (ownsEngine) {
                engine.close(); // do not leave a loaded model behind a failed build()
            }
            throw e;
        }
        this.listeners = b.listeners == null ? List.of() : List.copyOf(b.listeners);
        this.logRequests = Boolean.TRUE.equals(b.logRequests);
        this.logResponses = Boolean.TRUE.equals(b.logResponses);
    }

    public DeltaKvChatRequestParameters defaultRequestParameters() {
        return defaultParameters;
    }

    public List<ChatModelListener> listeners() {
        return listeners;
    }

    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /**
     * JSON schemas are supported: the answer is sampled under a grammar made from the schema. Tools are supported
     * where the chat template supports them ({@link DeltaKvEngine#templateSupportsTools()}).
     */
    public Set<Capability> supportedCapabilities() {
        return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
    }

    /** The engine this model runs on (shared when the builder was given one). */
    public DeltaKvEngine engine() {
        return engine;
    }

    /** Closes the engine, unless it was given to the builder (then its owner closes it). */
    @Override
    public void close() {
        if (ownsEngine) {
            engine.close();
        }
    }

    /**
     * Refuses a request this provider cannot serve (unsupported features or content, values out of range);
     * returns its messages as the JSON the chat template reads.
     */
    String check(ChatRequest request) {
        validate(request.parameters());
        if (request.messages() == null || request.messages().isEmpty()) {
            throw new IllegalArgumentException("a chat request needs at least one message");
        }
        return MessageJson.toJson(request.messages());
    }

    /** Runs a request that passed {@link #check}, given its messages JSON. */
    Completion complete(ChatRequest request, String messagesJson, AnswerListener listener, BooleanSupplier cancelled) {
        ChatRequestParameters p = request.parameters();
        if (logRequests) {
            LOG.info("request: {} message(s), parameters {}", request.messages().size(), p);
        }
        ToolRequest tools = toolRequest(p);
        Completion completion = engine.complete(messagesJson, tools, sampling(p, tools == null), listener, cancelled);
        if (logResponses) {
            LOG.info("response: {} ({} prompt tokens, {} reused, {} generated, finish {})", completion.text(),
                    completion.promptTokens(), completion.promptTokensReused(), completion.outputTokens(),
                    completion.finishReason());
        }
        return completion;
    }

    /** The request's tools as the chat template takes them; null without tools. */
    private static ToolRequest toolRequest(ChatRequestParameters p) {
        if (p.toolSpecifications() == null || p.toolSpecifications().isEmpty()) {
            return null;
        }
        String choice = p.toolChoice() == null ? "auto" : p.toolChoice().name().toLowerCase(Locale.ROOT);
        ResponseFormat format = p.responseFormat();
        String schema = format != null && format.type() == ResponseFormatType.JSON
                ? JsonGrammars.schemaJson(format.jsonSchema()) : null;
        return new ToolRequest(ToolJson.toJson(p.toolSpecifications()), choice, schema);
    }

    ChatResponse toResponse(Completion c) {
        AiMessage message = c.toolCalls().isEmpty() ? AiMessage.from(c.text())
                : AiMessage.builder().text(c.text().isEmpty() ? null : c.text()).toolExecutionRequests(toolRequests(c)).build();
        return ChatResponse.builder()
                .aiMessage(message)
                .metadata(DeltaKvChatResponseMetadata.builder()
                        .id(UUID.randomUUID().toString())
                        .modelName(engine.modelName())
                        .tokenUsage(new TokenUsage(c.promptTokens(), c.outputTokens()))
                        .finishReason(c.finishReason())
                        .promptTokensReused(c.promptTokensReused())
                        .promptTokensEvaluated(c.promptTokensEvaluated())
                        .kvMemory(c.kvMemory())
                        .build())
                .build();
    }

    static List<ToolExecutionRequest> toolRequests(Completion c) {
        return c.toolCalls().stream()
                .map(t -> ToolExecutionRequest.builder().id(t.id()).name(t.name()).arguments(t.arguments()).build())
                .toList();
    }

    /** @param withGrammar the response format's grammar applies (without tools; with tools the template's does) */
    private SamplingSettings sampling(ChatRequestParameters p, boolean withGrammar) {
        DeltaKvChatRequestParameters d = p instanceof DeltaKvChatRequestParameters dk ? dk : defaultParameters.overrideWith(p);
        return new SamplingSettings(
                or(d.temperature(), DEFAULT_TEMPERATURE), or(d.topK(), DEFAULT_TOP_K), or(d.topP(), DEFAULT_TOP_P),
                or(d.minP(), DEFAULT_MIN_P), or(d.repeatPenalty(), DEFAULT_REPEAT_PENALTY),
                or(d.repeatLastN(), DEFAULT_REPEAT_LAST_N), or(d.frequencyPenalty(), 0.0), or(d.presencePenalty(), 0.0),
                or(d.maxOutputTokens(), -1), or(d.seed(), -1L), d.stopSequences(),
                withGrammar ? JsonGrammars.grammarFor(d.responseFormat()) : null);
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    /** Refuses what this provider cannot do, and values out of range, before any work is done. */
    private void validate(ChatRequestParameters p) {
        if (p.modelName() != null && !p.modelName().equals(engine.modelName())) {
            throw new UnsupportedFeatureException("'modelName' parameter is not supported: this model serves only '"
                    + engine.modelName() + "', not '" + p.modelName() + "'");
        }
        boolean hasTools = p.toolSpecifications() != null && !p.toolSpecifications().isEmpty();
        if (p.toolChoice() == ToolChoice.REQUIRED && !engine.templateSupportsTools()) {
            throw new UnsupportedFeatureException("ToolChoice.REQUIRED is not supported by the chat template of "
                    + engine.modelName() + ": it has no tool-call format llama.cpp can read");
        }
        if (hasTools && !engine.templateSupportsTools()) {
            throw new UnsupportedFeatureException("tools are not supported by the chat template of " + engine.modelName()
                    + ": it has no tool-call format llama.cpp can read; give a tool-capable Jinja template with "
                    + "chatTemplate(...) (e.g. a Qwen2.5 or Hermes-style one)");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED && !hasTools) {
            throw new IllegalArgumentException("ToolChoice.REQUIRED needs at least one tool specification");
        }
        check(p.temperature() == null || p.temperature() >= 0, "temperature must be >= 0, got " + p.temperature());
        check(p.topP() == null || (p.topP() > 0 && p.topP() <= 1), "topP must be in (0, 1], got " + p.topP());
        check(p.topK() == null || p.topK() >= 0, "topK must be >= 0, got " + p.topK());
        check(p.maxOutputTokens() == null || p.maxOutputTokens() > 0,
                "maxOutputTokens must be positive, got " + p.maxOutputTokens());
        check(p.frequencyPenalty() == null || Double.isFinite(p.frequencyPenalty()),
                "frequencyPenalty must be a finite number, got " + p.frequencyPenalty());
        check(p.presencePenalty() == null || Double.isFinite(p.presencePenalty()),
                "presencePenalty must be a finite number, got " + p.presencePenalty());
        if (p instanceof DeltaKvChatRequestParameters d) {
            check(d.minP() == null || (d.minP() >= 0 && d.minP() <= 1), "minP must be in [0, 1], got " + d.minP());
            check(d.repeatPenalty() == null || d.repeatPenalty() > 0, "repeatPenalty must be > 0, got " + d.repeatPenalty());
            check(d.repeatLastN() == null || d.repeatLastN() >= -1,
                    "repeatLastN must be >= -1 (-1: the whole context), got " + d.repeatLastN());
            check(d.seed() == null || (d.seed() >= -1 && d.seed() <= 0xFFFFFFFFL),
                    "seed must be in [0, 2^32) or -1 (random), got " + d.seed());
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /**
     * Builder shared by both chat models. Either give an {@link #engine(DeltaKvEngine)} to share one
     * loaded model, or the model settings ({@link #modelPath(Path)} and friends) to load a new one.
     */
    @SuppressWarnings("unchecked")
    public abstract static class Builder<C extends DeltaKvBaseChatModel, B extends Builder<C, B>> {
        private final DeltaKvEngine.Builder engineBuilder = DeltaKvEngine.builder();
        private DeltaKvEngine engine;
        private Double temperature;
        private Integer topK;
        private Double topP;
        private Double minP;
        private Long seed;
        private Double repeatPenalty;
        private Integer repeatLastN;
        private Integer maxTokens;
        private List<String> stopSequences;
        private ChatRequestParameters defaultRequestParameters;
        private List<ChatModelListener> listeners;
        private Boolean logRequests;
        private Boolean logResponses;

        /** Share a loaded model instead of loading one; this model will not close it. */
        public B engine(DeltaKvEngine engine) {
            this.engine = engine;
            return (B) this;
        }

        /** The GGUF model file. */
        public B modelPath(Path modelPath) {
            engineBuilder.modelPath(modelPath);
            return (B) this;
        }

        /** Context size in tokens (default 4096). */
        public B contextSize(Integer contextSize) {
            engineBuilder.contextSize(contextSize);
            return (B) this;
        }

        /** Layers offloaded to the GPU: -1 all (default), 0 none. */
        public B gpuLayers(Integer gpuLayers) {
            engineBuilder.gpuLayers(gpuLayers);
            return (B) this;
        }

        /** How the layers are spread over several devices (default LAYER); see {@link DeltaKvEngine.Builder#splitMode}. */
        public B splitMode(SplitMode splitMode) {
            engineBuilder.splitMode(splitMode);
            return (B) this;
        }

        /** The device for SplitMode NONE and ROW (default 0); see {@link DeltaKvEngine.Builder#mainGpu}. */
        public B mainGpu(Integer mainGpu) {
            engineBuilder.mainGpu(mainGpu);
            return (B) this;
        }

        /** The share of the layers each device gets; see {@link DeltaKvEngine.Builder#tensorSplit}. */
        public B tensorSplit(List<Float> tensorSplit) {
            engineBuilder.tensorSplit(tensorSplit);
            return (B) this;
        }

        /** The devices to use, by name; see {@link DeltaKvEngine.Builder#devices}. */
        public B devices(List<String> devices) {
            engineBuilder.devices(devices);
            return (B) this;
        }

        /** ggml-rpc-server endpoints whose devices take layers; see {@link DeltaKvEngine.Builder#rpcServers}. */
        public B rpcServers(List<String> rpcServers) {
            engineBuilder.rpcServers(rpcServers);
            return (B) this;
        }

        /** CPU threads (default: all available processors). */
        public B threads(Integer threads) {
            engineBuilder.threads(threads);
            return (B) this;
        }

        /** Tokens per prompt-evaluation batch (default 512). */
        public B batchSize(Integer batchSize) {
            engineBuilder.batchSize(batchSize);
            return (B) this;
        }

        /** Flash attention: null auto, true on, false off. */
        public B flashAttention(Boolean flashAttention) {
            engineBuilder.flashAttention(flashAttention);
            return (B) this;
        }

        /** A Jinja chat template to use instead of the model's own. */
        public B chatTemplate(String chatTemplate) {
            engineBuilder.chatTemplate(chatTemplate);
            return (B) this;
        }

        /** Native host memory for conversations set aside (default: twice the context's KV allocation, 256 MiB to 8 GiB; 0 = off). */
        public B prefixCacheBytes(Long prefixCacheBytes) {
            engineBuilder.prefixCacheBytes(prefixCacheBytes);
            return (B) this;
        }

        /** Calls that may wait while maxSequences run (default: no limit); beyond, RateLimitException at once. */
        public B maxQueuedCalls(Integer maxQueuedCalls) {
            engineBuilder.maxQueuedCalls(maxQueuedCalls);
            return (B) this;
        }

        /** Calls served at once, decoded together (default 4); see {@link DeltaKvEngine.Builder#maxSequences}. */
        public B maxSequences(Integer maxSequences) {
            engineBuilder.maxSequences(maxSequences);
            return (B) this;
        }

        /** How long a call may wait to start (default: no limit); beyond, TimeoutException. */
        public B queueTimeout(java.time.Duration queueTimeout) {
            engineBuilder.queueTimeout(queueTimeout);
            return (B) this;
        }

        /** Element type of the KV cache: f16 (default), bf16, q8_0, q5_1, q5_0, q4_1, q4_0. */
        public B kvCacheType(String kvCacheType) {
            engineBuilder.kvCacheType(kvCacheType);
            return (B) this;
        }

        /** DeltaKV compressed KV memory (default: none, the stock F16 cache). */
        public B deltaKv(DeltaKvConfig deltaKv) {
            engineBuilder.deltaKv(deltaKv);
            return (B) this;
        }

        /** Sink + recent-window eviction on the stock cache; see {@link DeltaKvEngine.Builder#kvEviction}. */
        public B kvEviction(int sinkTokens, int recentTokens) {
            engineBuilder.kvEviction(sinkTokens, recentTokens);
            return (B) this;
        }

        /** Progress of model loading and long prompt evaluation. */
        public B progressListener(DeltaKvEngine.ProgressListener progressListener) {
            engineBuilder.progressListener(progressListener);
            return (B) this;
        }

        public B temperature(Double temperature) {
            this.temperature = temperature;
            return (B) this;
        }

        public B topK(Integer topK) {
            this.topK = topK;
            return (B) this;
        }

        public B topP(Double topP) {
            this.topP = topP;
            return (B) this;
        }

        public B minP(Double minP) {
            this.minP = minP;
            return (B) this;
        }

        public B seed(Long seed) {
            this.seed = seed;
            return (B) this;
        }

        public B repeatPenalty(Double repeatPenalty) {
            this.repeatPenalty = repeatPenalty;
            return (B) this;
        }

        public B repeatLastN(Integer repeatLastN) {
            this.repeatLastN = repeatLastN;
            return (B) this;
        }

        /** Default limit on generated tokens (default: none, until the model stops or the context is full). */
        public B maxTokens(Integer maxTokens) {
            this.maxTokens = maxTokens;
            return (B) this;
        }

        public B stopSequences(List<String> stopSequences) {
            this.stopSequences = stopSequences;
            return (B) this;
        }

        /** Defaults for every request; the individual setters above win over these. */
        public B defaultRequestParameters(ChatRequestParameters parameters) {
            this.defaultRequestParameters = parameters;
            return (B) this;
        }

        public B listeners(List<ChatModelListener> listeners) {
            this.listeners = listeners;
            return (B) this;
        }

        public B logRequests(Boolean logRequests) {
            this.logRequests = logRequests;
            return (B) this;
        }

        public B logResponses(Boolean logResponses) {
            this.logResponses = logResponses;
            return (B) this;
        }

        public abstract C build();
    }
}
