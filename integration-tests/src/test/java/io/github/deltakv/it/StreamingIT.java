package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.data.message.UserMessage;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Streaming on kvtiny with in-context questions: tokens on a worker thread, the same answer as the
 * blocking model, stop sequences, cancellation midway, and handler exceptions routed to onError (the
 * mechanics of the shared suite's three knowledge-dependent streaming cases).
 */
class StreamingIT {

    static DeltaKvEngine engine;
    static Haystacks.Needle needle;

    @BeforeAll
    static void load() {
        engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(2048).threads(TestModels.threads()).build();
        needle = Haystacks.needle(1200, 0.4, 5);
    }

    @AfterAll
    static void close() {
        if (engine != null) {
            engine.close();
        }
    }

    private static DeltaKvStreamingChatModel.Builder streaming() {
        return DeltaKvStreamingChatModel.builder().engine(engine).temperature(0.0).maxTokens(16);
    }

    @Test
    void streams_on_a_worker_thread_the_same_answer_as_the_blocking_model() throws Exception {
        Recorder recorder = new Recorder();
        streaming().build().chat(needle.message(), recorder);
        ChatResponse response = recorder.done.get(60, TimeUnit.SECONDS);

        assertThat(response.aiMessage().text().strip()).isEqualTo(needle.answer());
        assertThat(String.join("", recorder.partials)).isEqualTo(response.aiMessage().text());
        assertThat(recorder.threads).doesNotContain(Thread.currentThread().getName());
        assertThat(recorder.threads.stream().distinct()).hasSize(1);
        assertThat(response.finishReason()).isEqualTo(FinishReason.STOP);

        ChatResponse blocking = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(16).build()
                .chat(ChatRequest.builder().messages(UserMessage.from(needle.message())).build());
        assertThat(blocking.aiMessage().text()).isEqualTo(response.aiMessage().text());
    }

    @Test
    void cancelling_midway_stops_cleanly_and_the_model_stays_usable() throws Exception {
        Recorder recorder = new Recorder();
        recorder.cancelAfter = 3;
        int heldBefore = engine.kvMemory().tokensHeld(); // other conversations' sequences
        // a long answer: the model repeats and rambles without a stop within 200 tokens
        streaming().maxTokens(200).build().chat("Tell me a long story about the sea.", recorder);

        Thread.sleep(2000);
        assertThat(recorder.partials).hasSize(3);
        assertThat(recorder.done).isNotDone();
        assertThat(recorder.errors).isEmpty();
        // the cancelled answer's cells are freed; the prompt stays for the next call to reuse
        assertThat(engine.kvMemory().tokensHeld()).isEqualTo(heldBefore
                + engine.countPromptTokens(List.of(UserMessage.from("Tell me a long story about the sea."))));

        Recorder next = new Recorder();
        streaming().build().chat(needle.message(), next);
        assertThat(next.done.get(60, TimeUnit.SECONDS).aiMessage().text().strip()).isEqualTo(needle.answer());
    }

    @Test
    void a_stream_is_cancelled_during_its_prompt_through_the_handle_start_returns() throws Exception {
        // a long prompt evaluated in slices of 32 tokens: seconds of prefill before the first token
        try (DeltaKvEngine slow = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(16384)
                .batchSize(32).threads(TestModels.threads()).build()) {
            DeltaKvStreamingChatModel model = DeltaKvStreamingChatModel.builder().engine(slow).temperature(0.0)
                    .maxTokens(16).build();
            String prompt = Haystacks.needle(12000, 0.5, 11).message();
            int promptTokens = slow.countPromptTokens(List.of(UserMessage.from(prompt)));

            Recorder cancelledAtOnce = new Recorder();
            model.start(ChatRequest.builder().messages(UserMessage.from(prompt)).build(), cancelledAtOnce).cancel();

            Recorder cancelledMidPrompt = new Recorder();
            var handle = model.start(ChatRequest.builder().messages(UserMessage.from(prompt)).build(),
                    cancelledMidPrompt);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (slow.servingStats().promptTokensEvaluated() < 256 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            handle.cancel();
            assertThat(handle.isCancelled()).isTrue();
            Thread.sleep(1000);

            for (Recorder r : List.of(cancelledAtOnce, cancelledMidPrompt)) {
                assertThat(r.partials).isEmpty();
                assertThat(r.done).isNotDone();
                assertThat(r.errors).isEmpty();
            }
            assertThat(slow.servingStats().promptTokensEvaluated()).as("prompt tokens evaluated")
                    .isGreaterThanOrEqualTo(256).isLessThan(promptTokens);
            assertThat(slow.servingStats().running()).isZero();

            // the engine goes on: a short call answers
            Recorder after = new Recorder();
            model.start(ChatRequest.builder().messages(UserMessage.from(needle.message())).build(), after);
            assertThat(after.done.get(60, TimeUnit.SECONDS).aiMessage().text().strip()).isEqualTo(needle.answer());
        }
    }

    @Test
    void stop_sequences_cut_the_answer_and_never_stream_the_stop_string() throws Exception {
        String stop = needle.answer().substring(3, 5);
        String expected = needle.answer().substring(0, needle.answer().indexOf(stop));
        Recorder recorder = new Recorder();
        streaming().stopSequences(List.of(stop)).build().chat(needle.message(), recorder);
        ChatResponse response = recorder.done.get(60, TimeUnit.SECONDS);

        assertThat(response.aiMessage().text().strip()).isEqualTo(expected);
        assertThat(String.join("", recorder.partials)).isEqualTo(response.aiMessage().text()).doesNotContain(stop);
        assertThat(response.finishReason()).isEqualTo(FinishReason.STOP);

        ChatResponse blocking = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(16)
                .stopSequences(List.of(stop)).build().chat(ChatRequest.builder().messages(UserMessage.from(needle.message())).build());
        assertThat(blocking.aiMessage().text().strip()).isEqualTo(expected);
    }

    @Test
    void exceptions_from_the_handler_go_to_on_error_and_the_stream_completes() throws Exception {
        RuntimeException fromPartial = new RuntimeException("user code failed in onPartialResponse");
        Recorder recorder = new Recorder();
        recorder.throwFromPartial = fromPartial;
        streaming().build().chat(needle.message(), recorder);
        ChatResponse response = recorder.done.get(60, TimeUnit.SECONDS);
        assertThat(response.aiMessage().text().strip()).isEqualTo(needle.answer());
        assertThat(recorder.errors).hasSize(recorder.partials.size()).allMatch(e -> e == fromPartial);

        RuntimeException fromComplete = new RuntimeException("user code failed in onCompleteResponse");
        Recorder second = new Recorder();
        second.throwFromComplete = fromComplete;
        CountDownLatch errorSeen = new CountDownLatch(1);
        streaming().build().chat(needle.message(), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(PartialResponse p, PartialResponseContext c) {
                second.onPartialResponse(p, c);
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                second.onCompleteResponse(r);
            }

            @Override
            public void onError(Throwable e) {
                second.onError(e);
                errorSeen.countDown();
                throw new RuntimeException("onError failing too is logged and dropped");
            }
        });
        assertThat(errorSeen.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(second.errors).containsExactly(fromComplete);
    }
}
