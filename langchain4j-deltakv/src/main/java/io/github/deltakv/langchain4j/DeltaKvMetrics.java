package io.github.deltakv.langchain4j;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * An engine's serving and KV-cache metrics for Micrometer, named after llama-server's ({@code llamacpp:*}), each tagged
 * with the model's name. Read when the registry asks, from statistics that never wait for a decode.
 *
 * <pre>{@code
 * new DeltaKvMetrics(model.engine()).bindTo(meterRegistry);
 * }</pre>
 *
 * <table>
 *   <caption>meters</caption>
 *   <tr><td>{@code deltakv.requests.processing}, {@code .deferred}</td><td>calls running, calls waiting</td></tr>
 *   <tr><td>{@code deltakv.prompt.tokens}, {@code deltakv.prompt.seconds}</td><td>prompt tokens evaluated, and the
 *       time spent on them (prefill tokens/s is their ratio)</td></tr>
 *   <tr><td>{@code deltakv.tokens.predicted}, {@code deltakv.tokens.predicted.seconds}</td><td>answer tokens, and the
 *       time spent in decode steps</td></tr>
 *   <tr><td>{@code deltakv.decode.steps}</td><td>decode steps (each decodes every running answer)</td></tr>
 *   <tr><td>{@code deltakv.time.to.first.token}</td><td>from a call's arrival to its first token</td></tr>
 *   <tr><td>{@code deltakv.kv.cache.tokens}, {@code deltakv.kv.cache.usage.ratio}</td><td>tokens held, and their share
 *       of the context's cells</td></tr>
 *   <tr><td>{@code deltakv.kv.bytes} (tag {@code class}: allocated, held; with DeltaKV also full, exact, latents,
 *       ids, stock)</td><td>KV memory by class; {@code stock} is what an F16 cache would hold for the same
 *       tokens</td></tr>
 *   <tr><td>{@code deltakv.kv.compression.ratio}</td><td>DeltaKV: held bytes over the F16 cache's for the same
 *       tokens</td></tr>
 *   <tr><td>{@code deltakv.prefix.cache.hits}, {@code deltakv.prefix.cache.bytes}</td><td>conversations restored
 *       from the prefix cache, and its size</td></tr>
 * </table>
 */
public final class DeltaKvMetrics implements MeterBinder {

    private final DeltaKvEngine engine;
    private final Tags tags;

    public DeltaKvMetrics(DeltaKvEngine engine) {
        this.engine = engine;
        this.tags = Tags.of("model", engine.modelName());
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        gauge(registry, "deltakv.requests.processing", "calls running, each a sequence of the context",
                e -> e.servingStats().running());
        gauge(registry, "deltakv.requests.deferred", "calls waiting for a sequence and cells",
                e -> e.servingStats().waiting());
        counter(registry, "deltakv.prompt.tokens", "prompt tokens evaluated", e -> e.servingStats().promptTokensEvaluated());
        counter(registry, "deltakv.prompt.seconds", "time spent evaluating prompts", e -> e.servingStats().promptSeconds());
        counter(registry, "deltakv.tokens.predicted", "answer tokens generated", e -> e.servingStats().tokensGenerated());
        counter(registry, "deltakv.tokens.predicted.seconds", "time spent in decode steps",
                e -> e.servingStats().decodeSeconds());
        counter(registry, "deltakv.decode.steps", "decode steps", e -> e.servingStats().decodeSteps());
        FunctionTimer.builder("deltakv.time.to.first.token", engine, e -> e.servingStats().firstTokens(),
                        e -> e.servingStats().timeToFirstTokenSeconds(), TimeUnit.SECONDS)
                .description("from a call's arrival to its first token").tags(tags).register(registry);
        gauge(registry, "deltakv.kv.cache.tokens", "tokens held in the KV cache", e -> e.kvMemory().tokensHeld());
        gauge(registry, "deltakv.kv.cache.usage.ratio", "tokens held over the context's cells",
                e -> (double) e.kvMemory().tokensHeld() / e.kvMemory().contextSize());
        bytes(registry, "allocated", e -> e.kvMemory().bytesAllocated());
        bytes(registry, "held", e -> e.kvMemory().bytesHeld());
        if (engine.kvMemory().deltaKv() != null) {
            bytes(registry, "full", e -> e.kvMemory().deltaKv().bytesFullLayers());
            bytes(registry, "exact", e -> e.kvMemory().deltaKv().bytesExactRows());
            bytes(registry, "latents", e -> e.kvMemory().deltaKv().bytesLatents());
            bytes(registry, "ids", e -> e.kvMemory().deltaKv().bytesReferenceIds());
            bytes(registry, "stock", e -> e.kvMemory().deltaKv().bytesStock());
            gauge(registry, "deltakv.kv.compression.ratio", "DeltaKV: held bytes over an F16 cache's for the same tokens",
                    e -> e.kvMemory().deltaKv().usedRatio());
        }
        counter(registry, "deltakv.prefix.cache.hits", "conversations restored from the prefix cache",
                e -> e.prefixCacheStats().hits());
        gauge(registry, "deltakv.prefix.cache.bytes", "bytes of conversations set aside", e -> e.prefixCacheStats().bytes());
    }

    private void gauge(MeterRegistry registry, String name, String description, ToDoubleFunction<DeltaKvEngine> value) {
        Gauge.builder(name, engine, open(value)).description(description).tags(tags).register(registry);
    }

    private void counter(MeterRegistry registry, String name, String description, ToDoubleFunction<DeltaKvEngine> value) {
        FunctionCounter.builder(name, engine, open(value)).description(description).tags(tags).register(registry);
    }

    private void bytes(MeterRegistry registry, String kind, ToDoubleFunction<DeltaKvEngine> value) {
        Gauge.builder("deltakv.kv.bytes", engine, open(value)).description("KV memory by class").baseUnit("bytes")
                .tags(tags).tag("class", kind).register(registry);
    }

    /** NaN once the engine is closed, as Micrometer reads a meter whose source is gone. */
    private static ToDoubleFunction<DeltaKvEngine> open(ToDoubleFunction<DeltaKvEngine> value) {
        return e -> e.isClosed() ? Double.NaN : value.applyAsDouble(e);
    }
}
