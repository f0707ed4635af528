package io.github.deltakv.langchain4j.spring;

import java.nio.file.Path;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/** {@code langchain4j.deltakv.*}: the model and its defaults. Unset values keep the provider's defaults. */
@ConfigurationProperties(prefix = DeltaKvProperties.PREFIX)
public class DeltaKvProperties {

    public static final String PREFIX = "langchain4j.deltakv";

    @NestedConfigurationProperty
    private ChatModel chatModel = new ChatModel();

    public ChatModel getChatModel() {
        return chatModel;
    }

    public void setChatModel(ChatModel chatModel) {
        this.chatModel = chatModel;
    }

    @NestedConfigurationProperty
    private DeltaKv deltaKv = new DeltaKv();

    public DeltaKv getDeltaKv() {
        return deltaKv;
    }

    public void setDeltaKv(DeltaKv deltaKv) {
        this.deltaKv = deltaKv;
    }

    /**
     * {@code langchain4j.deltakv.delta-kv.*}: DeltaKV compressed KV memory, on when {@code compressor-path}
     * is set; the other values override the side file's settings.
     */
    public static class DeltaKv {
        private Path compressorPath;
        private Integer sinkTokens;
        private Integer recentTokens;
        private Integer neighbors;
        private Integer centerStride;
        private Integer topK;
        private Integer latentBits;
        private java.util.List<Integer> fullLayers;

        public Path getCompressorPath() { return compressorPath; }
        public void setCompressorPath(Path compressorPath) { this.compressorPath = compressorPath; }
        public Integer getSinkTokens() { return sinkTokens; }
        public void setSinkTokens(Integer sinkTokens) { this.sinkTokens = sinkTokens; }
        public Integer getRecentTokens() { return recentTokens; }
        public void setRecentTokens(Integer recentTokens) { this.recentTokens = recentTokens; }
        public Integer getNeighbors() { return neighbors; }
        public void setNeighbors(Integer neighbors) { this.neighbors = neighbors; }
        public Integer getCenterStride() { return centerStride; }
        public void setCenterStride(Integer centerStride) { this.centerStride = centerStride; }
        public Integer getTopK() { return topK; }
        public void setTopK(Integer topK) { this.topK = topK; }
        public Integer getLatentBits() { return latentBits; }
        public void setLatentBits(Integer latentBits) { this.latentBits = latentBits; }
        public java.util.List<Integer> getFullLayers() { return fullLayers; }
        public void setFullLayers(java.util.List<Integer> fullLayers) { this.fullLayers = fullLayers; }
    }

    /** {@code langchain4j.deltakv.chat-model.*}: shared by the ChatModel and StreamingChatModel beans. */
    public static class ChatModel {
        private Path modelPath;
        private Integer contextSize;
        private Integer gpuLayers;
        private Integer threads;
        private Integer batchSize;
        private Boolean flashAttention;
        private String chatTemplate;
        private Integer maxSequences;
        private Integer maxQueuedCalls;
        private java.time.Duration queueTimeout;
        private Double temperature;
        private Integer topK;
        private Double topP;
        private Double minP;
        private Long seed;
        private Double repeatPenalty;
        private Integer maxTokens;
        private Boolean logRequests;
        private Boolean logResponses;

        public Path getModelPath() { return modelPath; }
        public void setModelPath(Path modelPath) { this.modelPath = modelPath; }
        public Integer getContextSize() { return contextSize; }
        public void setContextSize(Integer contextSize) { this.contextSize = contextSize; }
        public Integer getGpuLayers() { return gpuLayers; }
        public void setGpuLayers(Integer gpuLayers) { this.gpuLayers = gpuLayers; }
        public Integer getThreads() { return threads; }
        public void setThreads(Integer threads) { this.threads = threads; }
        public Integer getBatchSize() { return batchSize; }
        public void setBatchSize(Integer batchSize) { this.batchSize = batchSize; }
        public Boolean getFlashAttention() { return flashAttention; }
        public void setFlashAttention(Boolean flashAttention) { this.flashAttention = flashAttention; }
        public String getChatTemplate() { return chatTemplate; }
        public void setChatTemplate(String chatTemplate) { this.chatTemplate = chatTemplate; }
        public Integer getMaxSequences() { return maxSequences; }
        public void setMaxSequences(Integer maxSequences) { this.maxSequences = maxSequences; }
        public Integer getMaxQueuedCalls() { return maxQueuedCalls; }
        public void setMaxQueuedCalls(Integer maxQueuedCalls) { this.maxQueuedCalls = maxQueuedCalls; }
        public java.time.Duration getQueueTimeout() { return queueTimeout; }
        public void setQueueTimeout(java.time.Duration queueTimeout) { this.queueTimeout = queueTimeout; }
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
        public Integer getMaxTokens() { return maxTokens; }
        public void setMaxTokens(Integer maxTokens) { this.maxTokens = maxTokens; }
        public Boolean getLogRequests() { return logRequests; }
        public void setLogRequests(Boolean logRequests) { this.logRequests = logRequests; }
        public Boolean getLogResponses() { return logResponses; }
        public void setLogResponses(Boolean logResponses) { this.logResponses = logResponses; }
    }
}
