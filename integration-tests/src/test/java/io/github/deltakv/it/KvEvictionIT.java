package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.KvMemoryStats;

import org.junit.jupiter.api.Test;

/**
 * The sink + recent-window eviction baseline ({@code kvEviction}): the cache holds only the sink and the window,
 * so a needle in the middle of a long prompt is forgotten, one in the window is not; refused with DeltaKV and
 * with negative sizes.
 */
class KvEvictionIT {

    static DeltaKvChatModel evicting(int sink, int recent) {
        return DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(4608).batchSize(4608)
                .threads(TestModels.threads()).temperature(0.0).maxTokens(16).kvEviction(sink, recent).build();
    }

    @Test
    void the_cache_keeps_only_the_sink_and_the_window_and_forgets_the_middle() {
        Haystacks.Needle early = Haystacks.needle(4000, 0.2, 51);
        Haystacks.Needle late = Haystacks.needle(4000, 0.97, 52);
        try (DeltaKvChatModel stock = TestModels.kvtinyGreedy(4608, 16); DeltaKvChatModel evict = evicting(64, 512)) {
            // the stock cache finds both needles (checked, so that a miss below means the eviction)
            assertThat(stock.chat(UserMessage.from(early.message())).aiMessage().text().strip()).isEqualTo(early.answer());
            assertThat(stock.chat(UserMessage.from(late.message())).aiMessage().text().strip()).isEqualTo(late.answer());

            ChatResponse lost = evict.chat(UserMessage.from(early.message()));
            KvMemoryStats kv = ((DeltaKvChatResponseMetadata) lost.metadata()).kvMemory();
            ChatResponse kept = evict.chat(UserMessage.from(late.message()));

            assertThat(lost.aiMessage().text().strip()).isNotEqualTo(early.answer());
            assertThat(kept.aiMessage().text().strip()).isEqualTo(late.answer());
            // positions run to the end of the prompt, but only sink + window (+ the token being added) are held
            assertThat(kv.tokensHeld()).isGreaterThan(3500);
            KvMemoryStats stockKv = ((DeltaKvChatResponseMetadata) stock.chat(UserMessage.from(early.message())).metadata())
                    .kvMemory();
            double perToken = (double) stockKv.bytesHeld() / stockKv.tokensHeld();
            assertThat(kv.bytesHeld() / perToken).isBetween(560.0, 600.0);
        }
    }

    @Test
    void eviction_is_refused_with_deltakv_and_with_negative_sizes() {
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).kvEviction(64, 512)
                .deltaKv(DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-identity.deltakv.gguf"))).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot be combined with deltaKv");
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).kvEviction(-1, 512).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kvEviction");
    }
}
