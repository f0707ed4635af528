package io.github.deltakv.langchain4j.spring;

import dev.langchain4j.model.chat.listener.ChatModelListener;

import io.github.deltakv.langchain4j.DeltaKvBaseChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvMetrics;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import io.micrometer.core.instrument.binder.MeterBinder;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * With {@code langchain4j.deltakv.chat-model.model-path} set: one {@link DeltaKvEngine} (the loaded model,
 * closed with the context) and a {@link DeltaKvChatModel} and {@link DeltaKvStreamingChatModel} on it,
 * with every {@link ChatModelListener} bean as a listener and a {@link DeltaKvEngine.ProgressListener} bean, if
 * any, as the engine's; with Micrometer present, its {@link DeltaKvMetrics}. The engine's health indicator is
 * {@link DeltaKvHealthAutoConfig}'s.
 */
@AutoConfiguration
@EnableConfigurationProperties(DeltaKvProperties.class)
@ConditionalOnProperty(prefix = DeltaKvProperties.PREFIX + ".chat-model", name = "model-path")
public class DeltaKvAutoConfig {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    DeltaKvEngine deltaKvEngine(DeltaKvProperties properties, ObjectProvider<DeltaKvEngine.ProgressListener> progress) {
        ChatModelProperties p = properties.getChatModel();
        DeltaKvEngine.Builder engine = DeltaKvEngine.builder()
                .modelPath(p.getModelPath())
                .contextSize(p.getContextSize())
                .gpuLayers(p.getGpuLayers())
                .splitMode(p.getSplitMode())
                .mainGpu(p.getMainGpu())
                .tensorSplit(p.getTensorSplit())
                .devices(p.getDevices())
                .rpcServers(p.getRpcServers())
                .threads(p.getThreads())
                .batchSize(p.getBatchSize())
                .flashAttention(p.getFlashAttention())
                .chatTemplate(p.getChatTemplate())
                .kvCacheType(p.getKvCacheType())
                .prefixCacheBytes(p.getPrefixCacheBytes() == null ? null : p.getPrefixCacheBytes().toBytes())
                .maxSequences(p.getMaxSequences())
                .maxQueuedCalls(p.getMaxQueuedCalls())
                .queueTimeout(p.getQueueTimeout())
                .deltaKv(deltaKv(properties.getDeltaKv()))
                .progressListener(progress.getIfAvailable());
        KvEvictionProperties eviction = properties.getKvEviction();
        if (eviction.getRecentTokens() != null) {
            engine.kvEviction(eviction.getSinkTokens() == null ? 0 : eviction.getSinkTokens(), eviction.getRecentTokens());
        }
        return engine.build();
    }

    private static DeltaKvConfig deltaKv(DeltaKvConfigProperties d) {
        if (d.getCompressorPath() == null) {
            return null;
        }
        return DeltaKvConfig.builder()
                .compressorPath(d.getCompressorPath())
                .sinkTokens(d.getSinkTokens())
                .recentTokens(d.getRecentTokens())
                .neighbors(d.getNeighbors())
                .centerStride(d.getCenterStride())
                .topK(d.getTopK())
                .topKFraction(d.getTopKFraction())
                .latentBits(d.getLatentBits())
                .fullLayers(d.getFullLayers())
                .compressLayersPerStep(d.getCompressLayersPerStep())
                .build();
    }

    @Bean
    @ConditionalOnMissingBean
    DeltaKvChatModel deltaKvChatModel(DeltaKvEngine engine, DeltaKvProperties properties,
                                      ObjectProvider<ChatModelListener> listeners) {
        return configure(DeltaKvChatModel.builder(), engine, properties, listeners).build();
    }

    @Bean
    @ConditionalOnMissingBean
    DeltaKvStreamingChatModel deltaKvStreamingChatModel(DeltaKvEngine engine, DeltaKvProperties properties,
                                                        ObjectProvider<ChatModelListener> listeners) {
        return configure(DeltaKvStreamingChatModel.builder(), engine, properties, listeners).build();
    }

    private static <B extends DeltaKvBaseChatModel.Builder<?, B>> B configure(B builder, DeltaKvEngine engine,
            DeltaKvProperties properties, ObjectProvider<ChatModelListener> listeners) {
        ChatModelProperties p = properties.getChatModel();
        return builder.engine(engine)
                .temperature(p.getTemperature())
                .topK(p.getTopK())
                .topP(p.getTopP())
                .minP(p.getMinP())
                .seed(p.getSeed())
                .repeatPenalty(p.getRepeatPenalty())
                .repeatLastN(p.getRepeatLastN())
                .maxTokens(p.getMaxTokens())
                .stopSequences(p.getStopSequences())
                .logRequests(p.getLogRequests())
                .logResponses(p.getLogResponses())
                .listeners(listeners.orderedStream().toList());
    }

    /** With Micrometer on the class path: the engine's meters, bound to the application's registry by Spring Boot. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    static class Metrics {

        @Bean
        @ConditionalOnMissingBean
        DeltaKvMetrics deltaKvMetrics(DeltaKvEngine engine) {
            return new DeltaKvMetrics(engine);
        }
    }
}
