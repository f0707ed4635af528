package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvEngine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * With maxQueuedCalls, calls beyond the running ones and N waiting fail at once with RateLimitException: twenty calls
 * arrive together at a model that runs one and lets one wait.
 */
class QueueLimitIT {

    @Test
    void calls_beyond_the_queue_limit_are_refused_and_the_others_complete() throws Exception {
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(1024)
                .threads(TestModels.threads()).maxSequences(1).maxQueuedCalls(1).build()) {
            DeltaKvChatModel model = DeltaKvChatModel.builder().engine(engine).maxTokens(8).build();
            int calls = 20;
            ExecutorService pool = Executors.newFixedThreadPool(calls);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<ChatResponse>> futures = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return model.chat(ChatRequest.builder().messages(UserMessage.from("Hello")).build());
                }));
            }
            start.countDown();
            int refused = 0;
            int answered = 0;
            for (Future<ChatResponse> f : futures) {
                try {
                    assertThat(f.get(2, TimeUnit.MINUTES).aiMessage()).isNotNull();
                    answered++;
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(RateLimitException.class).hasMessageContaining("maxQueuedCalls");
                    refused++;
                }
            }
            pool.shutdown();

            assertThat(refused).isPositive();
            assertThat(answered).isGreaterThanOrEqualTo(2); // the first to run and the first to wait
            assertThat(refused + answered).isEqualTo(calls);
            assertThat(model.chat("And now?")).isNotNull(); // the queue is free again
        }
    }
}
