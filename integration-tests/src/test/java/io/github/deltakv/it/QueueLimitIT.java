package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** With maxQueuedCalls, calls beyond one running and N waiting fail at once with RateLimitException. */
class QueueLimitIT {

    @Test
    void calls_beyond_the_queue_limit_are_refused_and_the_others_complete() throws Exception {
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(1024)
                .threads(TestModels.threads()).maxQueuedCalls(1).build()) {
            DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).maxTokens(8).build();
            DeltaKvChatModel blocking = DeltaKvChatModel.builder().engine(engine).maxTokens(8).build();

            // 1. a stream that holds the model until released
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<ChatResponse> first = new CompletableFuture<>();
            streaming.chat("Tell me a story.", new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                    started.countDown();
                    try {
                        release.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }

                @Override
                public void onCompleteResponse(ChatResponse response) {
                    first.complete(response);
                }

                @Override
                public void onError(Throwable error) {
                    first.completeExceptionally(error);
                }
            });
            assertThat(started.await(60, TimeUnit.SECONDS)).isTrue();

            // 2. one call may wait for its turn
            CompletableFuture<ChatResponse> second = CompletableFuture.supplyAsync(
                    () -> blocking.chat(ChatRequest.builder().messages(UserMessage.from("Hello")).build()));
            Thread.sleep(500); // let it reach the queue

            // 3. the next one is refused at once
            assertThatThrownBy(() -> blocking.chat("Hello again"))
                    .isInstanceOf(RateLimitException.class)
                    .hasMessageContaining("maxQueuedCalls");

            release.countDown();
            assertThat(first.get(60, TimeUnit.SECONDS)).isNotNull();
            assertThat(second.get(60, TimeUnit.SECONDS)).isNotNull();
            assertThat(blocking.chat("And now?")).isNotNull(); // the queue is free again
        }
    }
}
