package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvMetrics;

import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.Test;

/** The engine's meters count what its calls did: tokens, steps, time to first token, KV bytes by class. */
class MetricsIT {

    @Test
    void meters_follow_the_calls_and_the_deltakv_memory() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        DeltaKvConfig deltaKv = DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-random-d64-int4.deltakv.gguf"));
        try (DeltaKvChatModel model = DeltaKvMemoryIT.kvtiny(deltaKv, 4096)) {
            new DeltaKvMetrics(model.engine()).bindTo(registry);
            assertThat(registry.get("deltakv.tokens.predicted").functionCounter().count()).isZero();

            Haystacks.Needle needle = Haystacks.needle(3000, 0.5, 7);
            int answer = model.chat(ChatRequest.builder().messages(UserMessage.from(needle.message())).build())
                    .tokenUsage().outputTokenCount();

            assertThat(registry.get("deltakv.tokens.predicted").functionCounter().count()).isEqualTo(answer);
            assertThat(registry.get("deltakv.prompt.tokens").functionCounter().count()).isGreaterThan(2500);
            assertThat(registry.get("deltakv.prompt.seconds").functionCounter().count()).isPositive();
            // the first token comes with the prompt, the others a step each, and an end of turn takes one more
            assertThat(registry.get("deltakv.decode.steps").functionCounter().count()).isBetween(answer - 1.0, answer + 0.0);
            FunctionTimer ttft = registry.get("deltakv.time.to.first.token").functionTimer();
            assertThat(ttft.count()).isEqualTo(1);
            assertThat(ttft.totalTime(java.util.concurrent.TimeUnit.SECONDS))
                    .isGreaterThanOrEqualTo(registry.get("deltakv.prompt.seconds").functionCounter().count());
            assertThat(registry.get("deltakv.requests.processing").gauge().value()).isZero();
            assertThat(registry.get("deltakv.kv.cache.tokens").gauge().value()).isGreaterThan(2500);
            double latents = registry.get("deltakv.kv.bytes").tag("class", "latents").gauge().value();
            double held = registry.get("deltakv.kv.bytes").tag("class", "held").gauge().value();
            assertThat(latents).isPositive().isLessThan(held);
            assertThat(registry.get("deltakv.kv.compression.ratio").gauge().value()).isBetween(0.2, 0.5);
            assertThat(registry.get("deltakv.kv.bytes").tag("model", model.engine().modelName()).meters()).hasSize(7);
        }
        assertThat(registry.get("deltakv.kv.cache.tokens").gauge().value()).isNaN(); // closed
    }
}
