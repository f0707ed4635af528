package io.github.deltakv.langchain4j.spring;

import static io.github.deltakv.langchain4j.spring.TestModel.IDENTITY_COMPRESSOR;
import static io.github.deltakv.langchain4j.spring.TestModel.withModel;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.langchain4j.data.message.UserMessage;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatRequestParameters;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;
import io.github.deltakv.langchain4j.KvMemoryStats;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** Each {@code langchain4j.deltakv.*} property reaches the provider's builders; unset ones keep their defaults. */
class DeltaKvPropertiesTest {

    private final ApplicationContextRunner runner = TestModel.starter();

    @Test
    void set_properties_shape_the_engine_and_both_models() {
        double f16BytesPerCell = f16BytesPerCell();
        AtomicReference<Float> loaded = new AtomicReference<>();
        runner.withPropertyValues(withModel("chat-model.context-size=512", "chat-model.kv-cache-type=q8_0",
                        "chat-model.prefix-cache-bytes=1MB", "chat-model.max-sequences=2",
                        "chat-model.max-queued-calls=3", "chat-model.queue-timeout=5s", "chat-model.batch-size=64",
                        "chat-model.gpu-layers=0", "chat-model.split-mode=none", "chat-model.main-gpu=0",
                        "chat-model.devices=CPU", "chat-model.tensor-split=1",
                        "chat-model.chat-template={% for m in messages %}<<{{ m.content }}>>{% endfor %}",
                        "chat-model.temperature=0.3", "chat-model.top-k=7", "chat-model.top-p=0.5",
                        "chat-model.min-p=0.1", "chat-model.seed=42", "chat-model.repeat-penalty=1.1",
                        "chat-model.repeat-last-n=32", "chat-model.max-tokens=16", "chat-model.stop-sequences=END,STOP",
                        "chat-model.log-requests=true", "chat-model.log-responses=true"))
                .withBean(DeltaKvEngine.ProgressListener.class, () -> new DeltaKvEngine.ProgressListener() {
                    @Override
                    public void onModelLoad(float fraction) {
                        loaded.set(fraction);
                    }
                })
                .run(context -> {
                    DeltaKvEngine engine = context.getBean(DeltaKvEngine.class);
                    assertThat(engine.contextSize()).isEqualTo(512);
                    assertThat(engine.kvBytesByDevice()).containsOnlyKeys("CPU"); // devices=CPU, split-mode=none
                    assertThat(engine.prefixCacheStats().maxBytes()).isEqualTo(1 << 20);
                    assertThat(engine.renderPrompt(List.of(UserMessage.from("Hi")))).isEqualTo("<<Hi>>");
                    assertThat(loaded.get()).isEqualTo(1.0f);
                    for (DeltaKvChatRequestParameters p : List.of(
                            context.getBean(DeltaKvChatModel.class).defaultRequestParameters(),
                            context.getBean(DeltaKvStreamingChatModel.class).defaultRequestParameters())) {
                        assertThat(p.temperature()).isEqualTo(0.3);
                        assertThat(p.topK()).isEqualTo(7);
                        assertThat(p.topP()).isEqualTo(0.5);
                        assertThat(p.minP()).isEqualTo(0.1);
                        assertThat(p.seed()).isEqualTo(42L);
                        assertThat(p.repeatPenalty()).isEqualTo(1.1);
                        assertThat(p.repeatLastN()).isEqualTo(32);
                        assertThat(p.maxOutputTokens()).isEqualTo(16);
                        assertThat(p.stopSequences()).containsExactly("END", "STOP");
                    }
                    assertThat(bytesPerCell(engine.kvMemory())).isLessThan(0.6 * f16BytesPerCell);
                });
    }

    @Test
    void delta_kv_properties_reach_the_loaded_compressor() {
        runner.withPropertyValues(withModel("chat-model.context-size=512", "delta-kv.compressor-path=" + IDENTITY_COMPRESSOR,
                        "delta-kv.sink-tokens=4", "delta-kv.recent-tokens=64", "delta-kv.neighbors=2",
                        "delta-kv.center-stride=8", "delta-kv.top-k=300", "delta-kv.top-k-fraction=0.25",
                        "delta-kv.latent-bits=8", "delta-kv.full-layers=0,2", "delta-kv.compress-layers-per-step=0"))
                .run(context -> assertThat(context.getBean(DeltaKvEngine.class).deltaKvSettings())
                        .containsEntry("n_sink", "4")
                        .containsEntry("n_recent", "64")
                        .containsEntry("n_neighbors", "2")
                        .containsEntry("center_stride", "8")
                        .containsEntry("top_k", "300")
                        .containsEntry("top_k_fraction", "0.25")
                        .containsEntry("latent_bits", "8")
                        .containsEntry("full_layers", "0,2"));
    }

    @Test
    void kv_eviction_properties_bound_the_cache() {
        String prompt = "one two three four five six seven eight nine ten ".repeat(20);
        runner.withPropertyValues(withModel("chat-model.context-size=512", "chat-model.batch-size=64",
                        "chat-model.max-tokens=4", "kv-eviction.sink-tokens=4", "kv-eviction.recent-tokens=32"))
                .run(context -> {
                    DeltaKvEngine engine = context.getBean(DeltaKvEngine.class);
                    assertThat(context.getBean(DeltaKvChatModel.class).chat(prompt)).isNotNull();
                    KvMemoryStats kv = engine.kvMemory();
                    // positions run to the end of the prompt; only the sink, the window and a batch keep their cells
                    assertThat(kv.tokensHeld()).isGreaterThan(150);
                    assertThat(kv.bytesHeld() / bytesPerCell(kv)).isLessThanOrEqualTo(4 + 32 + 64 + 1);
                    assertThat(engine.prefixCacheStats().maxBytes()).isZero();
                });
    }

    /** KV bytes per context cell of the tiny model's default (F16) cache. */
    private double f16BytesPerCell() {
        double[] perCell = new double[1];
        runner.withPropertyValues(withModel("chat-model.context-size=512"))
                .run(context -> perCell[0] = bytesPerCell(context.getBean(DeltaKvEngine.class).kvMemory()));
        return perCell[0];
    }

    private static double bytesPerCell(KvMemoryStats kv) {
        return (double) kv.bytesAllocated() / kv.contextSize();
    }

    @Test
    void unset_properties_keep_the_builders_defaults() {
        runner.withPropertyValues(withModel()).run(context -> {
            DeltaKvEngine engine = context.getBean(DeltaKvEngine.class);
            assertThat(engine.contextSize()).isEqualTo(4096);
            assertThat(engine.prefixCacheStats().maxBytes()).isEqualTo(256L << 20);
            assertThat(engine.kvMemory().deltaKv()).isNull();
            DeltaKvChatRequestParameters plain = DeltaKvChatModel.builder().engine(engine).build()
                    .defaultRequestParameters();
            assertThat(context.getBean(DeltaKvChatModel.class).defaultRequestParameters()).isEqualTo(plain);
            assertThat(context.getBean(DeltaKvStreamingChatModel.class).defaultRequestParameters()).isEqualTo(plain);
            assertThat(plain.temperature()).isCloseTo(0.8, within(1e-9));
            assertThat(plain.maxOutputTokens()).isNull();
            assertThat(plain.seed()).isNull();
        });
    }

    /** A value out of range is refused by the builder (or llama.cpp) it reaches, naming that setting. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "chat-model.flash-attention=false;chat-model.kv-cache-type=q4_0 | quantized V cache requires flash_attn",
        "chat-model.context-size=0                        | contextSize must be positive",
        "chat-model.threads=600                           | threads must be at most 512",
        "chat-model.batch-size=0                          | batchSize must be positive",
        "chat-model.gpu-layers=-2                         | gpuLayers must be -1",
        "chat-model.kv-cache-type=q3_x                    | kvCacheType must be",
        "chat-model.main-gpu=-1                           | mainGpu must be >= 0",
        "chat-model.tensor-split=1,-1                     | tensorSplit proportions must be finite and >= 0",
        "chat-model.devices=CUDA7                         | no device named 'CUDA7'",
        "chat-model.rpc-servers=localhost                 | an RPC server is host:port",
        "chat-model.rpc-servers=127.0.0.1:1               | Connection refused",
        "chat-model.prefix-cache-bytes=-1                 | prefixCacheBytes must be >= 0",
        "chat-model.max-sequences=0                       | maxSequences must be positive",
        "chat-model.max-queued-calls=-1                   | maxQueuedCalls must be >= 0",
        "chat-model.queue-timeout=0s                      | queueTimeout must be positive",
        "kv-eviction.recent-tokens=8;kv-eviction.sink-tokens=-1 | kvEviction needs sinkTokens and recentTokens >= 0",
        "kv-eviction.recent-tokens=8;delta-kv.compressor-path=IDENTITY | kvEviction cannot be combined with deltaKv",
        "delta-kv.compressor-path=missing.deltakv.gguf    | DeltaKV compressor file not found",
        "delta-kv.compressor-path=IDENTITY;delta-kv.sink-tokens=-1 | sinkTokens must be >= 0",
        "delta-kv.compressor-path=IDENTITY;delta-kv.recent-tokens=0 | recentTokens must be >= 1",
        "delta-kv.compressor-path=IDENTITY;delta-kv.neighbors=9 | neighbors must be at most 8",
        "delta-kv.compressor-path=IDENTITY;delta-kv.center-stride=1 | centerStride must be >= 2",
        "delta-kv.compressor-path=IDENTITY;delta-kv.top-k=0 | topK must be >= 1",
        "delta-kv.compressor-path=IDENTITY;delta-kv.top-k-fraction=1.5 | topKFraction must be in [0, 1]",
        "delta-kv.compressor-path=IDENTITY;delta-kv.latent-bits=3 | latentBits must be 4, 8 or 16",
        "delta-kv.compressor-path=IDENTITY;delta-kv.full-layers=-1 | fullLayers must name at least one layer",
        "delta-kv.compressor-path=IDENTITY;delta-kv.compress-layers-per-step=-1 | compressLayersPerStep must be >= 0",
    })
    void a_property_out_of_range_is_refused_naming_its_setting(String properties, String message) {
        String[] values = properties.replace("IDENTITY", IDENTITY_COMPRESSOR.toString()).split(";");
        runner.withPropertyValues(withModel(values))
                .run(context -> assertThat(context).getFailure().rootCause().hasMessageContaining(message));
    }
}
