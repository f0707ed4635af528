package io.github.deltakv.langchain4j.spring;

import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.KvMemoryStats;
import io.github.deltakv.langchain4j.ServingStats;

import org.springframework.boot.actuate.health.AbstractHealthIndicator;
import org.springframework.boot.actuate.health.Health;

/**
 * The engine's health: UP while the model is loaded, DOWN once it is closed. Details: the model's name, the context
 * size, whether it is closed, and while open the calls running and waiting and the KV memory (tokens and bytes held,
 * bytes allocated; with DeltaKV, held bytes over an F16 cache's for the same tokens).
 */
public class DeltaKvHealthIndicator extends AbstractHealthIndicator {

    private final DeltaKvEngine engine;

    public DeltaKvHealthIndicator(DeltaKvEngine engine) {
        super("DeltaKV health check failed");
        this.engine = engine;
    }

    @Override
    protected void doHealthCheck(Health.Builder health) {
        health.withDetail("model", engine.modelName())
                .withDetail("contextSize", engine.contextSize())
                .withDetail("closed", engine.isClosed());
        if (engine.isClosed()) {
            health.down();
            return;
        }
        ServingStats serving = engine.servingStats();
        KvMemoryStats kv = engine.kvMemory();
        health.up()
                .withDetail("runningSequences", serving.running())
                .withDetail("waitingCalls", serving.waiting())
                .withDetail("kvTokensHeld", kv.tokensHeld())
                .withDetail("kvBytesHeld", kv.bytesHeld())
                .withDetail("kvBytesAllocated", kv.bytesAllocated());
        if (kv.deltaKv() != null) {
            health.withDetail("deltaKvCompressionRatio", kv.deltaKv().usedRatio());
        }
    }
}
