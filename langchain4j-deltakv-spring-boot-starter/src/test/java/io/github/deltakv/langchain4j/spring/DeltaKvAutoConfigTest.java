package io.github.deltakv.langchain4j.spring;

import static io.github.deltakv.langchain4j.spring.TestModel.IDENTITY_COMPRESSOR;
import static io.github.deltakv.langchain4j.spring.TestModel.withModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;

import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvMetrics;

import io.micrometer.core.instrument.MeterRegistry;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The starter starts an application: properties in, a working ChatModel and StreamingChatModel out. */
class DeltaKvAutoConfigTest {

    private final ApplicationContextRunner runner = TestModel.starter();

    @Test
    void model_beans_from_properties_answer_and_call_listener_beans() {
        AtomicInteger requests = new AtomicInteger();
        runner.withPropertyValues(withModel("chat-model.context-size=1024", "chat-model.temperature=0.0",
                        "chat-model.max-tokens=8"))
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
        runner.withPropertyValues(withModel("chat-model.context-size=1024", "chat-model.max-tokens=4",
                        "delta-kv.compressor-path=" + IDENTITY_COMPRESSOR, "delta-kv.recent-tokens=64",
                        "delta-kv.full-layers=0,4", "delta-kv.compress-layers-per-step=0"))
                .run(context -> {
                    DeltaKvEngine engine = context.getBean(DeltaKvEngine.class);
                    assertThat(context.getBean(ChatModel.class).chat("Hello")).isNotNull();
                    assertThat(engine.kvMemory().deltaKv()).isNotNull();
                    assertThat(engine.kvMemory().deltaKv().tokens()).isPositive();
                });
    }

    @Test
    void with_spring_boot_metrics_the_engine_meters_are_in_the_application_registry() {
        runner.withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class))
                .withPropertyValues(withModel("chat-model.context-size=1024", "chat-model.max-tokens=4"))
                .run(context -> {
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    String model = context.getBean(DeltaKvEngine.class).modelName();
                    assertThat(context.getBean(ChatModel.class).chat("Hello")).isNotNull();
                    assertThat(registry.get("deltakv.tokens.predicted").tag("model", model).functionCounter().count())
                            .isPositive();
                    assertThat(registry.get("deltakv.kv.bytes").tag("class", "allocated").gauge().value()).isPositive();
                });
    }

    @Test
    void without_micrometer_there_are_no_meters() {
        runner.withClassLoader(new FilteredClassLoader("io.micrometer"))
                .withPropertyValues(withModel("chat-model.context-size=512"))
                .run(context -> assertThat(context).hasSingleBean(DeltaKvEngine.class)
                        .doesNotHaveBean(DeltaKvMetrics.class));
    }

    @Test
    void both_auto_configurations_are_registered_for_spring_boot() {
        assertThat(ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()))
                .contains(DeltaKvAutoConfig.class.getName(), DeltaKvHealthAutoConfig.class.getName());
    }

    @Test
    void without_a_model_path_nothing_is_created() {
        runner.run(context -> assertThat(context).doesNotHaveBean(ChatModel.class).doesNotHaveBean(DeltaKvEngine.class));
    }

    @Test
    void closing_the_application_closes_the_engine() {
        DeltaKvEngine[] engine = new DeltaKvEngine[1];
        runner.withPropertyValues(withModel("chat-model.context-size=512"))
                .run(context -> engine[0] = context.getBean(DeltaKvEngine.class));
        assertThat(engine[0].isClosed()).isTrue();
    }
}
