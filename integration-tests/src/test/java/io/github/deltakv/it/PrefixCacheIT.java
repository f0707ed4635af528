package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * The prefix cache: conversations set aside in host memory come back without evaluating their history
 * again, within a byte budget; a long chat evaluates only each turn's new tokens.
 */
class PrefixCacheIT {

    /** One conversation about one document: the history grows turn by turn. */
    static final class Conversation {
        final Haystacks.Needle needle;
        final List<ChatMessage> history = new ArrayList<>();

        Conversation(long seed) {
            needle = Haystacks.needle(1500, 0.5, seed);
        }

        /** Asks the needle question (the document comes with the first turn); returns the response. */
        ChatResponse ask(DeltaKvChatModel model) {
            String question = "What is the special magic number for " + needle.key() + " mentioned in the provided text?";
            history.add(UserMessage.from(history.isEmpty() ? needle.message() : question));
            ChatResponse response = model.chat(ChatRequest.builder().messages(history).build());
            history.add(response.aiMessage());
            return response;
        }
    }

    /** One sequence: a conversation the context no longer holds is in the prefix cache or nowhere. */
    private static DeltaKvChatModel model(long cacheBytes) {
        return DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(4096).threads(TestModels.threads())
                .maxSequences(1).temperature(0.0).maxTokens(12).prefixCacheBytes(cacheBytes).build();
    }

    private static DeltaKvChatResponseMetadata meta(ChatResponse r) {
        return (DeltaKvChatResponseMetadata) r.metadata();
    }

    @Test
    void alternating_conversations_come_back_from_the_cache() {
        try (DeltaKvChatModel model = model(256L << 20)) {
            Conversation a = new Conversation(31);
            Conversation b = new Conversation(32);
            a.ask(model);
            b.ask(model);
            for (int turn = 0; turn < 2; turn++) {
                for (Conversation c : List.of(a, b)) {
                    ChatResponse r = c.ask(model);
                    assertThat(r.aiMessage().text().strip()).isEqualTo(c.needle.answer());
                    // only the previous answer and the new question: a few dozen tokens, not the document
                    assertThat(meta(r).promptTokensEvaluated()).isLessThan(60);
                    assertThat(meta(r).promptTokensReused()).isGreaterThan(1000);
                }
            }
            assertThat(model.engine().prefixCacheStats().hits()).isEqualTo(4);
            assertThat(model.engine().prefixCacheStats().tokensRestored()).isGreaterThan(4 * 1000);
        }
    }

    @Test
    void without_the_cache_a_switch_evaluates_the_history_again() {
        try (DeltaKvChatModel model = model(0)) {
            assertThat(meta(backToTheFirstOfTwo(model)).promptTokensEvaluated()).isGreaterThan(1000);
            assertThat(model.engine().prefixCacheStats().hits()).isZero();
        }
    }

    @Test
    void conversations_beyond_the_budget_are_dropped() {
        try (DeltaKvChatModel model = model(1L << 20)) { // 1 MiB: a 1500-token conversation takes ~4.5 MiB
            assertThat(meta(backToTheFirstOfTwo(model)).promptTokensEvaluated()).isGreaterThan(1000);
            assertThat(model.engine().prefixCacheStats().entries()).isZero();
        }
    }

    /** Conversation A, then B, then A again: the response of A's second turn. */
    private static ChatResponse backToTheFirstOfTwo(DeltaKvChatModel model) {
        Conversation a = new Conversation(31);
        Conversation b = new Conversation(32);
        a.ask(model);
        b.ask(model);
        return a.ask(model);
    }

    @Test
    void a_ten_turn_chat_over_a_long_document_evaluates_only_new_tokens() {
        try (DeltaKvChatModel model = model(256L << 20)) {
            Conversation c = new Conversation(33);
            int first = meta(c.ask(model)).promptTokensEvaluated();
            assertThat(first).isGreaterThan(1000);
            for (int turn = 2; turn <= 10; turn++) {
                ChatResponse r = c.ask(model);
                assertThat(meta(r).promptTokensEvaluated()).as("turn %d", turn).isLessThan(60);
                assertThat(r.aiMessage().text().strip()).isEqualTo(c.needle.answer());
            }
        }
    }
}
