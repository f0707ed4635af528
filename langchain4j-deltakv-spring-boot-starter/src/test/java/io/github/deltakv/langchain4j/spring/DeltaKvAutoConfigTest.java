package io.github.deltakv.langchain4j.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;

import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvMetrics;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The starter starts an application: properties in, a working ChatModel and StreamingChatModel out. */
class DeltaKvAutoConfigTest {

    private static final Path KVTINY =
            Path.of(System.getProperty("deltakv.models.dir", "../models"), "kvtiny-retrieval-q8_0.gguf").toAbsolutePath();

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(DeltaKvAutoConfig.class));

    @Test
    void model_beans_from_properties_answer_and_call_listener_beans() {
        AtomicInteger requests = new AtomicInteger();
        runner.withPropertyValues(
                        "langchain4j.deltakv.chat-model.model-path=" + KVTINY,
                        "langchain4j.deltakv.chat-model.context-size=1024",
                        "langchain4j.deltakv.chat-model.threads=2",
                        "langchain4j.deltakv.chat-model.temperature=0.0",
                        "langchain4j.deltakv.chat-model.max-tokens=8")
                .withBean(ChatModelListener.class, () -> new ChatModelListener() {
                    @Override
                    public void onRequest(ChatModelRequestContext context) {
                        requests.incrementAndGet();
                    }
                })
                .run(context -> {
                    assertThat(context).hasSingleBean(ChatModel.class).hasSingleBean(StreamingChatModel.class)
                            .hasSingleBean(DeltaKvEngine.class);
                    ChatModel model = context.getBean(ChatModel.class);
                    assertThat(model.defaultRequestParameters().temperature()).isEqualTo(0.0);
                    assertThat(model.defaultRequestParameters().maxOutputTokens()).isEqualTo(8);
                    assertThat(model.chat("Hello")).isNotNull();
                    assertThat(requests).hasValue(1);
                    assertThat(context.getBean(DeltaKvEngine.class).contextSize()).isEqualTo(1024);
                });
    }

    @Test
    void delta_kv_properties_give_a_compressed_kv_memory() {
        Path identity = Path.of("..", "integration-tests", "src", "test", "resources", "deltakv",
                "kvtiny-identity.deltakv.gguf").toAbsolutePath();
        runner.withPropertyValues(
                        "langchain4j.deltakv.chat-model.model-path=" + KVTINY,
                        "langchain4j.deltakv.chat-model.context-size=1024",
                        "langchain4j.deltakv.chat-model.threads=2",
                        "langchain4j.deltakv.chat-model.max-tokens=4",
                        "langchain4j.deltakv.delta-kv.compressor-path=" + identity,
                        "langchain4j.deltakv.delta-kv.recent-tokens=64",
                        "langchain4j.deltakv.delta-kv.full-layers=0,4")
                .run(context -> {
                    DeltaKvEngine engine = context.getBean(DeltaKvEngine.class);
                    assertThat(context.getBean(ChatModel.class).chat("Hello")).isNotNull();
                    assertThat(engine.kvMemory().deltaKv()).isNotNull();
                    assertThat(engine.kvMemory().deltaKv().tokens()).isPositive();
                });
    }

    @Test
    void serving_properties_reach_the_engine_and_its_meters_bind_to_a_registry() {
        runner.withPropertyValues(
                        "langchain4j.deltakv.chat-model.model-path=" + KVTINY,
                        "langchain4j.deltakv.chat-model.context-size=1024",
                        "langchain4j.deltakv.chat-model.threads=2",
                        "langchain4j.deltakv.chat-model.max-tokens=4",
                        "langchain4j.deltakv.chat-model.max-sequences=0")
                .run(context -> assertThat(context).getFailure().rootCause().hasMessageContaining("maxSequences"));
        runner.withPropertyValues(
                        "langchain4j.deltakv.chat-model.model-path=" + KVTINY,
                        "langchain4j.deltakv.chat-model.context-size=1024",
                        "langchain4j.deltakv.chat-model.threads=2",
                        "langchain4j.deltakv.chat-model.max-tokens=4",
                        "langchain4j.deltakv.chat-model.max-sequences=2",
                        "langchain4j.deltakv.chat-model.queue-timeout=5s")
                .run(context -> {
                    SimpleMeterRegistry registry = new SimpleMeterRegistry();
                    context.getBean(DeltaKvMetrics.class).bindTo(registry);
                    assertThat(context.getBean(ChatModel.class).chat("Hello")).isNotNull();
                    assertThat(registry.get("deltakv.tokens.predicted").functionCounter().count()).isPositive();
                });
    }

    @Test
    void without_a_model_path_nothing_is_created() {
        runner.run(context -> assertThat(context).doesNotHaveBean(ChatModel.class).doesNotHaveBean(DeltaKvEngine.class));
    }

    @Test
    void closing_the_application_closes_the_engine() {
        DeltaKvEngine[] engine = new DeltaKvEngine[1];
        runner.withPropertyValues("langchain4j.deltakv.chat-model.model-path=" + KVTINY,
                        "langchain4j.deltakv.chat-model.context-size=512")
                .run(context -> engine[0] = context.getBean(DeltaKvEngine.class));
        assertThat(engine[0].isClosed()).isTrue();
    }
}
