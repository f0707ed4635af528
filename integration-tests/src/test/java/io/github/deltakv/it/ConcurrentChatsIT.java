package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatRequestParameters;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Eight threads share one model: 8 x 50 chats, blocking and streaming, some streams cancelled at random, the answers
 * decoded together (continuous batching). Every chat completes or cancels cleanly, and each completed answer equals
 * the answer the same request gets when run alone. The chats are needle questions, each over its own text, that
 * kvtiny answers with confidence and greedily: decoded in a batch with other sequences a token's logits can differ in
 * their last bits from its logits decoded alone (llama.cpp's CPU kernels are not batch-invariant), which changes a
 * near tie, as kvtiny's answers to questions it was never trained on are full of, but not a confident answer.
 */
class ConcurrentChatsIT {

    static DeltaKvEngine engine;
    static DeltaKvChatModel blocking;
    static DeltaKvStreamingChatModel streaming;

    @BeforeAll
    static void load() {
        engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(1024).threads(TestModels.threads()).build();
        blocking = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(12).build();
        streaming = DeltaKvStreamingChatModel.builder().engine(engine).temperature(0.0).maxTokens(12).build();
    }

    @AfterAll
    static void close() {
        if (engine != null) {
            engine.close();
        }
    }

    static ChatRequest request(int id) {
        return ChatRequest.builder()
                .messages(UserMessage.from(Haystacks.needle(200, (id % 10) / 10.0, id).message()))
                .parameters(DeltaKvChatRequestParameters.builder().seed((long) id).build())
                .build();
    }

    @Test
    void eight_threads_times_fifty_chats_complete_or_cancel_cleanly_with_single_threaded_answers() throws Exception {
        int threads = 8, perThread = 50;
        Map<Integer, String> alone = new ConcurrentHashMap<>();
        for (int id = 0; id < threads * perThread; id++) {
            alone.put(id, blocking.chat(request(id)).aiMessage().text());
        }

        Map<Integer, String> together = new ConcurrentHashMap<>();
        AtomicInteger cancelled = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> done = new java.util.ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            done.add(pool.submit(() -> {
                Random random = new Random(thread);
                for (int i = 0; i < perThread; i++) {
                    int id = thread * perThread + i;
                    if (i % 2 == 0) {
                        together.put(id, blocking.chat(request(id)).aiMessage().text());
                        continue;
                    }
                    int cancelAt = random.nextInt(4) == 0 ? 1 + random.nextInt(3) : Integer.MAX_VALUE;
                    CompletableFuture<ChatResponse> response = new CompletableFuture<>();
                    AtomicInteger partials = new AtomicInteger();
                    streaming.chat(request(id), new StreamingChatResponseHandler() {
                        @Override
                        public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                            if (partials.incrementAndGet() == cancelAt) {
                                context.streamingHandle().cancel();
                                cancelled.incrementAndGet();
                                response.complete(null);
                            }
                        }

                        @Override
                        public void onCompleteResponse(ChatResponse r) {
                            response.complete(r);
                        }

                        @Override
                        public void onError(Throwable error) {
                            errors.incrementAndGet();
                            response.completeExceptionally(error);
                        }
                    });
                    ChatResponse r = response.get(120, TimeUnit.SECONDS);
                    if (r != null) {
                        together.put(id, r.aiMessage().text());
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get(10, TimeUnit.MINUTES);
        }
        pool.shutdown();

        assertThat(errors).hasValue(0);
        assertThat(cancelled.get()).isPositive();
        assertThat(together.size() + cancelled.get()).isEqualTo(threads * perThread);
        together.forEach((id, text) -> assertThat(text).as("chat %d", id).isEqualTo(alone.get(id)));
    }
}
