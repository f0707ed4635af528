package io.github.deltakv.langchain4j.spring;

import io.github.deltakv.langchain4j.SplitMode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.springframework.util.unit.DataSize;

/**
 * {@code langchain4j.deltakv.chat-model.*}: the model the ChatModel and StreamingChatModel beans share, how it serves
 * calls, and their default request parameters. Unset values keep the provider's defaults.
 */
public class ChatModelProperties {

    /** The GGUF model file; setting it creates the model beans. */
    private Path modelPath;

    /** Context size in tokens: the cells the running calls share, and the longest prompt plus answer. */
    private Integer contextSize;

    /** Layers offloaded to the GPU: -1 all, 0 none; ignored without a GPU. */
    private Integer gpuLayers;

    /** How the layers are spread over several devices: NONE, LAYER (default, as llama.cpp) or ROW (CUDA only). */
    private SplitMode splitMode;

    /** The device, by its index among the devices used, for split modes NONE and ROW (default 0). */
    private Integer mainGpu;

    /** The share of the layers each device gets, in device order, e.g. 3,1 (default: by free memory). */
    private List<Float> tensorSplit;

    /**
     * The devices to use, in order: by llama.cpp's names (CUDA0, CUDA1) or an RPC server's host:port for its devices
     * (default: the RPC servers' devices, then every GPU).
     */
    private List<String> devices;

    /** ggml-rpc-server endpoints (host:port) whose devices take layers of the model, as llama.cpp's --rpc. */
    private List<String> rpcServers;

    /** CPU threads (default: all available processors). */
    private Integer threads;

    /** Tokens per prompt-evaluation batch. */
    private Integer batchSize;

    /** Flash attention: true on, false off (default: llama.cpp chooses). */
    private Boolean flashAttention;

    /** A Jinja chat template to use instead of the model's own. */
    private String chatTemplate;

    /** Element type of the KV cache (and of DeltaKV's full layers); quantized V needs flash attention. */
    private String kvCacheType;

    /**
     * Native host memory (outside the Java heap) for conversations set aside, so that switching back to one skips
     * its history; 0 turns it off (default: twice the KV memory the context allocates, 256MB to 8GB).
     */
    private DataSize prefixCacheBytes;

    /** Calls served at once, each a sequence of the one context, decoded together. */
    private Integer maxSequences;

    /** Calls that may wait while max-sequences run; beyond, a call fails at once (default: no limit). */
    private Integer maxQueuedCalls;

    /** How long a call may wait to start; beyond, it fails with a TimeoutException (default: no limit). */
    private Duration queueTimeout;

    /** Sampling temperature; 0 always picks the likeliest token. */
    private Double temperature;

    /** Top-k sampling: only the k likeliest tokens; 0 turns it off. */
    private Integer topK;

    /** Top-p (nucleus) sampling, in (0, 1]. */
    private Double topP;

    /** Min-p sampling: tokens at least this fraction of the likeliest one's probability, in [0, 1]. */
    private Double minP;

    /** Sampling seed, in [0, 2^32); -1 random (default: random). */
    private Long seed;

    /** Repetition penalty; 1 turns it off. */
    private Double repeatPenalty;

    /** Last tokens the repetition penalty looks at; -1 the whole context. */
    private Integer repeatLastN;

    /** Default limit on generated tokens (default: none, until the model stops or the context is full). */
    private Integer maxTokens;

    /** Texts that end an answer when generated (not included in it). */
    private List<String> stopSequences;

    /** Whether each request is logged at INFO. */
    private Boolean logRequests;

    /** Whether each response is logged at INFO. */
    private Boolean logResponses;

    public Path getModelPath() { return modelPath; }
    public void setModelPath(Path modelPath) { this.modelPath = modelPath; }
    public Integer getContextSize() { return contextSize; }
    public void setContextSize(Integer contextSize) { this.contextSize = contextSize; }
    public Integer getGpuLayers() { return gpuLayers; }
    public void setGpuLayers(Integer gpuLayers) { this.gpuLayers = gpuLayers; }
    public SplitMode getSplitMode() { return splitMode; }
    public void setSplitMode(SplitMode splitMode) { this.splitMode = splitMode; }

    public Integer getMainGpu() { return mainGpu; }
    public void setMainGpu(Integer mainGpu) { this.mainGpu = mainGpu; }

    public List<Float> getTensorSplit() { return tensorSplit; }
    public void setTensorSplit(List<Float> tensorSplit) { this.tensorSplit = tensorSplit; }

    public List<String> getDevices() { return devices; }
    public void setDevices(List<String> devices) { this.devices = devices; }

    public List<String> getRpcServers() { return rpcServers; }
    public void setRpcServers(List<String> rpcServers) { this.rpcServers = rpcServers; }

    public Integer getThreads() { return threads; }
    public void setThreads(Integer threads) { this.threads = threads; }
    public Integer getBatchSize() { return batchSize; }
    public void setBatchSize(Integer batchSize) { this.batchSize = batchSize; }
    public Boolean getFlashAttention() { return flashAttention; }
    public void setFlashAttention(Boolean flashAttention) { this.flashAttention = flashAttention; }
    public String getChatTemplate() { return chatTemplate; }
    public void setChatTemplate(String chatTemplate) { this.chatTemplate = chatTemplate; }
    public String getKvCacheType() { return kvCacheType; }
    public void setKvCacheType(String kvCacheType) { this.kvCacheType = kvCacheType; }
    public DataSize getPrefixCacheBytes() { return prefixCacheBytes; }
    public void setPrefixCacheBytes(DataSize prefixCacheBytes) { this.prefixCacheBytes = prefixCacheBytes; }
    public Integer getMaxSequences() { return maxSequences; }
    public void setMaxSequences(Integer maxSequences) { this.maxSequences = maxSequences; }
    public Integer getMaxQueuedCalls() { return maxQueuedCalls; }
    public void setMaxQueuedCalls(Integer maxQueuedCalls) { this.maxQueuedCalls = maxQueuedCalls; }
    public Duration getQueueTimeout() { return queueTimeout; }
    public void setQueueTimeout(Duration queueTimeout) { this.queueTimeout = queueTimeout; }
    public Double getTemperature() { return temperature; }
    public void setTemperature(Double temperature) { this.temperature = temperature; }
    public Integer getTopK() { return topK; }
    public void setTopK(Integer topK) { this.topK = topK; }
    public Double getTopP() { return topP; }
    public void setTopP(Double topP) { this.topP = topP; }
    public Double getMinP() { return minP; }
    public void setMinP(Double minP) { this.minP = minP; }
    public Long getSeed() { return seed; }
    public void setSeed(Long seed) { this.seed = seed; }
    public Double getRepeatPenalty() { return repeatPenalty; }
    public void setRepeatPenalty(Double repeatPenalty) { this.repeatPenalty = repeatPenalty; }
    public Integer getRepeatLastN() { return repeatLastN; }
    public void setRepeatLastN(Integer repeatLastN) { this.repeatLastN = repeatLastN; }
    public Integer getMaxTokens() { return maxTokens; }
    public void setMaxTokens(Integer maxTokens) { this.maxTokens = maxTokens; }
    public List<String> getStopSequences() { return stopSequences; }
    public void setStopSequences(List<String> stopSequences) { this.stopSequences = stopSequences; }
    public Boolean getLogRequests() { return logRequests; }
    public void setLogRequests(Boolean logRequests) { this.logRequests = logRequests; }
    public Boolean getLogResponses() { return logResponses; }
    public void setLogResponses(Boolean logResponses) { this.logResponses = logResponses; }
}
