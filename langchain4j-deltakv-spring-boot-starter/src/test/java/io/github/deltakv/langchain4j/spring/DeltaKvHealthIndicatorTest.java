package io.github.deltakv.langchain4j.spring;

import static io.github.deltakv.langchain4j.spring.TestModel.withModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.ChatModel;

import io.github.deltakv.langchain4j.DeltaKvEngine;

import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** With Spring Boot Actuator: the engine's health, UP while the model is loaded and DOWN once it is closed. */
class DeltaKvHealthIndicatorTest {

    private final ApplicationContextRunner runner = TestModel.starter()
            .withPropertyValues(withModel("chat-model.context-size=512", "chat-model.max-tokens=2"));

    @Test
    void up_with_the_model_and_its_kv_memory_then_down_after_close() {
        runner.run(context -> {
            DeltaKvEngine engine = context.getBean(DeltaKvEngine.class);
            HealthIndicator indicator = context.getBean("deltaKvHealthIndicator", HealthIndicator.class);
            assertThat(context.getBean(ChatModel.class).chat("Hello")).isNotNull();

            Health up = indicator.health();
            assertThat(up.getStatus()).isEqualTo(Status.UP);
            assertThat(up.getDetails())
                    .containsEntry("model", engine.modelName())
                    .containsEntry("contextSize", 512)
                    .containsEntry("closed", false)
                    .containsEntry("runningSequences", 0)
                    .containsEntry("waitingCalls", 0)
                    .containsEntry("kvBytesAllocated", engine.kvMemory().bytesAllocated());
            assertThat((Integer) up.getDetails().get("kvTokensHeld")).isPositive();
            assertThat((Long) up.getDetails().get("kvBytesHeld")).isPositive();

            engine.close();
            Health down = indicator.health();
            assertThat(down.getStatus()).isEqualTo(Status.DOWN);
            assertThat(down.getDetails()).containsEntry("closed", true).containsEntry("model", engine.modelName());
        });
    }

    @Test
    void absent_without_actuator() {
        runner.withClassLoader(new FilteredClassLoader("org.springframework.boot.actuate"))
                .run(context -> assertThat(context).hasSingleBean(DeltaKvEngine.class)
                        .doesNotHaveBean(DeltaKvHealthIndicator.class));
    }

    @Test
    void absent_when_turned_off() {
        runner.withPropertyValues("management.health.deltakv.enabled=false")
                .run(context -> assertThat(context).hasSingleBean(DeltaKvEngine.class)
                        .doesNotHaveBean(DeltaKvHealthIndicator.class));
    }
}
