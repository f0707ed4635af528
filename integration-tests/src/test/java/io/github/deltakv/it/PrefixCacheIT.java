package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.PrefixCacheStats;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

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
            this(seed, 1500);
        }

        Conversation(long seed, int documentTokens) {
            needle = Haystacks.needle(documentTokens, 0.5, seed);
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
    void the_default_budget_follows_the_context() {
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(4096)
                .threads(TestModels.threads()).build()) {
            long allocated = engine.kvMemory().bytesAllocated();
            assertThat(engine.prefixCacheStats().maxBytes())
                    .isEqualTo(Math.max(256L << 20, Math.min(8L << 30, 2 * allocated)));
        }
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(393216)
                .batchSize(64).threads(TestModels.threads()).build()) { // a 1.1 GiB context: twice that
            long allocated = engine.kvMemory().bytesAllocated();
            assertThat(allocated).isGreaterThan(1L << 30);
            assertThat(engine.prefixCacheStats().maxBytes()).isEqualTo(2 * allocated);
        }
    }

    @Test
    void under_concurrency_the_cache_stays_in_its_budget_and_conversations_come_back() throws Exception {
        // two sequences; a budget of ~6 conversations (a 600-token one takes ~2.2 MiB)
        long budget = 14L << 20;
        try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(4096)
                .threads(TestModels.threads()).maxSequences(2).temperature(0.0).maxTokens(12)
                .prefixCacheBytes(budget).build()) {
            AtomicLong largest = new AtomicLong();
            // six conversations on three threads, each thread switching between its two: they come back
            onThreeThreads(model, largest, 40, 2);
            PrefixCacheStats first = model.engine().prefixCacheStats();
            assertThat(first.hits()).as("conversations restored").isPositive();
            // six new ones: twelve conversations in all, the old are evicted to stay in the budget
            onThreeThreads(model, largest, 50, 1);
            PrefixCacheStats after = model.engine().prefixCacheStats();
            assertThat(largest.get()).isPositive().isLessThanOrEqualTo(budget);
            assertThat(after.entries()).isLessThanOrEqualTo(6);
        }
    }

    /** Three threads, each asking its two conversations (seeds from {@code seed}) {@code turns} times in turn. */
    private static void onThreeThreads(DeltaKvChatModel model, AtomicLong largestCache, int seed, int turns)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                List<Conversation> mine = List.of(new Conversation(seed + 2 * t, 600),
                        new Conversation(seed + 2 * t + 1, 600));
                done.add(pool.submit(() -> {
                    for (int turn = 0; turn < turns; turn++) {
                        for (Conversation c : mine) {
                            assertThat(c.ask(model).aiMessage().text().strip()).isEqualTo(c.needle.answer());
                            largestCache.accumulateAndGet(model.engine().prefixCacheStats().bytes(), Math::max);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
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
